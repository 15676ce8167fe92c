{#-
  The only places where SQL differs between warehouses. Models call these
  macros and stay portable (docs/contract.md §1: DuckDB here, a cloud warehouse later).
-#}

{# Text value of a top-level key of a JSON object stored as text. #}
{% macro json_text(column, key) -%}
    {{ return(adapter.dispatch('json_text', 'journey')(column, key)) }}
{%- endmacro %}

{% macro default__json_text(column, key) -%}
    (cast({{ column }} as json) ->> '{{ key }}')
{%- endmacro %}

{% macro duckdb__json_text(column, key) -%}
    json_extract_string({{ column }}, '$.{{ key }}')
{%- endmacro %}

{# A timestamp with time zone as a plain UTC timestamp. #}
{% macro to_utc(column) -%}
    {{ return(adapter.dispatch('to_utc', 'journey')(column)) }}
{%- endmacro %}

{% macro default__to_utc(column) -%}
    ({{ column }} at time zone 'UTC')
{%- endmacro %}

{% macro duckdb__to_utc(column) -%}
    timezone('UTC', {{ column }})
{%- endmacro %}

{# Seconds (double) from start_ts to end_ts, millisecond precision. #}
{% macro seconds_between(start_ts, end_ts) -%}
    ({{ dbt.datediff(start_ts, end_ts, 'millisecond') }} / 1000.0)
{%- endmacro %}

{#-
  `numerator` / `denominator` as a double, null when the denominator is 0.
  Not `n * 1.0 / d`: that is a double on DuckDB but a numeric on PostgreSQL.
-#}
{% macro ratio(numerator, denominator) -%}
    (cast({{ numerator }} as double precision) / nullif({{ denominator }}, 0))
{%- endmacro %}

{# The session TTL in milliseconds, from the `ttl_hours` var. #}
{% macro ttl_ms() -%}
    {{ (var('ttl_hours') | float * 3600000) | int }}
{%- endmacro %}

{# The recontact window in milliseconds, from the `recontact_window_days` var (docs/contract.md §6.2). #}
{% macro recontact_window_ms() -%}
    {{ (var('recontact_window_days') | float * 86400000) | int }}
{%- endmacro %}

{# Exact percentile with linear interpolation (`p` = 0.5 is the median). #}
{% macro percentile_cont(column, p) -%}
    {{ return(adapter.dispatch('percentile_cont', 'journey')(column, p)) }}
{%- endmacro %}

{% macro default__percentile_cont(column, p) -%}
    percentile_cont({{ p }}) within group (order by {{ column }})
{%- endmacro %}

{% macro duckdb__percentile_cont(column, p) -%}
    quantile_cont({{ column }}, {{ p }})
{%- endmacro %}

{# Sorted distinct values of `column` over the rows matching `condition`; empty, not null, when none. #}
{% macro sorted_set(column, condition) -%}
    {{ return(adapter.dispatch('sorted_set', 'journey')(column, condition)) }}
{%- endmacro %}

{% macro default__sorted_set(column, condition) -%}
    coalesce(array_agg(distinct {{ column }} order by {{ column }}) filter (where {{ condition }}), '{}')
{%- endmacro %}

{% macro duckdb__sorted_set(column, condition) -%}
    coalesce(list(distinct {{ column }} order by {{ column }}) filter (where {{ condition }}), [])
{%- endmacro %}

{# Rows `hour_start` for every hour from `start_hour` to `end_hour` inclusive, from one-row `relation`. #}
{% macro hour_series(relation, start_hour, end_hour) -%}
    {{ return(adapter.dispatch('hour_series', 'journey')(relation, start_hour, end_hour)) }}
{%- endmacro %}

{% macro default__hour_series(relation, start_hour, end_hour) -%}
    select generate_series({{ start_hour }}, {{ end_hour }}, interval '1 hour') as hour_start
    from {{ relation }}
{%- endmacro %}

{% macro duckdb__hour_series(relation, start_hour, end_hour) -%}
    select unnest(generate_series({{ start_hour }}, {{ end_hour }}, interval '1 hour')) as hour_start
    from {{ relation }}
{%- endmacro %}

{# The first whole hour at or after a timestamp. #}
{% macro hour_at_or_after(column) -%}
    case
        when {{ dbt.date_trunc('hour', column) }} = {{ column }} then {{ column }}
        else {{ dbt.dateadd('hour', 1, dbt.date_trunc('hour', column)) }}
    end
{%- endmacro %}

{# A UTC timestamp as wall-clock time in the `reporting_timezone` var (docs/contract.md §6.1.9, heatmap). #}
{% macro in_reporting_timezone(column) -%}
    (({{ column }} at time zone 'UTC') at time zone '{{ var("reporting_timezone") }}')
{%- endmacro %}

