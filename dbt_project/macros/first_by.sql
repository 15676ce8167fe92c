{#-
  Per `partition_by`, the `columns` of the first row by `order_by` among the
  rows of `relation` that match `condition` (default: the column is not null).
  "The last non-null value of a session" is `order_by='event_seq desc'`.
  `partition_by` and `columns` are a column name or a list of them; with
  several columns give a `condition` (the default names one column).
  Portable: no `last_value(... ignore nulls)`.
-#}
{% macro first_by(relation, partition_by, order_by, columns, condition=none) -%}
    {%- set partition_by = [partition_by] if partition_by is string else partition_by -%}
    {%- set columns = [columns] if columns is string else columns -%}
    {%- if condition is none and columns | length != 1 -%}
        {{ exceptions.raise_compiler_error("first_by over " ~ columns | join(', ') ~ " needs a condition") }}
    {%- endif -%}
    select {{ partition_by | join(', ') }}, {{ columns | join(', ') }}
    from (
        select
            {{ partition_by | join(', ') }},
            {{ columns | join(', ') }},
            row_number() over (partition by {{ partition_by | join(', ') }} order by {{ order_by }}) as position
        from {{ relation }}
        where {{ condition if condition else columns[0] ~ ' is not null' }}
    ) as ranked
    where position = 1
{%- endmacro %}
