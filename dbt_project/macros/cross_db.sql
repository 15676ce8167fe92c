{#-
  The only places where SQL differs between warehouses. Models call these
  macros and stay portable (SPEC 2: DuckDB here, a cloud warehouse later).
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

{# The session TTL in milliseconds, from the `ttl_hours` var. #}
{% macro ttl_ms() -%}
    {{ (var('ttl_hours') | float * 3600000) | int }}
{%- endmacro %}
