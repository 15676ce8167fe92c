{#-
  Per `partition_by`, the `column` of the first row by `order_by` among the
  rows of `relation` that match `condition` (default: column is not null).
  "The last non-null value of a session" is `order_by='event_seq desc'`.
  `partition_by` and `column` may list several columns ("a, b"); with
  several columns give a `condition` (the default names one column).
  Portable: no `last_value(... ignore nulls)`.
-#}
{% macro first_by(relation, partition_by, order_by, column, condition=none) -%}
    select {{ partition_by }}, {{ column }}
    from (
        select
            {{ partition_by }},
            {{ column }},
            row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as position
        from {{ relation }}
        where {{ condition if condition else column ~ ' is not null' }}
    ) as ranked
    where position = 1
{%- endmacro %}
