{% test unique_combination(model, columns) %}
{#- The columns together identify a row (a dependency-free twin of dbt_utils' test). -#}
select {{ columns | join(', ') }}
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
