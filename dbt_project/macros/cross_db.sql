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

{% macro spark__json_text(column, key) -%}
    get_json_object({{ column }}, '$.{{ key }}')
{%- endmacro %}

{# A timestamp with time zone as a plain UTC timestamp. #}
{% macro to_utc(column) -%}
    {{ return(adapter.dispatch('to_utc', 'journey')(column)) }}
{%- endmacro %}

{% macro default__to_utc(column) -%}
    ({{ column }} at time zone 'UTC')
{%- endmacro %}

{#- The instant's microseconds since the epoch, as a plain timestamp: the value
    `timezone('UTC', ...)` gives, without a time zone lookup per row (about 20×
    faster, and the staging view converts every event each time a model scans it). -#}
{% macro duckdb__to_utc(column) -%}
    make_timestamp(epoch_us({{ column }}))
{%- endmacro %}

{#- Spark's timestamps have no zone of their own; the session's is UTC (profiles.yml). -#}
{% macro spark__to_utc(column) -%}
    {{ column }}
{%- endmacro %}

{#- An 8-byte float: `double precision` is no type name on Spark. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'journey')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}

{#- Text that is `varchar` as the contracts say (`dbt.type_string()` is `text` on PostgreSQL); `string` on Spark. -#}
{% macro type_text() -%}
    {{ return(adapter.dispatch('type_text', 'journey')()) }}
{%- endmacro %}

{% macro default__type_text() -%}
    varchar
{%- endmacro %}

{% macro spark__type_text() -%}
    string
{%- endmacro %}

{# Seconds (double) from start_ts to end_ts, millisecond precision. #}
{% macro seconds_between(start_ts, end_ts) -%}
    {{ ms_to_seconds(millis_between(start_ts, end_ts)) }}
{%- endmacro %}

{# Whole milliseconds from start_ts to end_ts (each cut to the millisecond, as DuckDB counts). #}
{% macro millis_between(start_ts, end_ts) -%}
    {{ return(adapter.dispatch('millis_between', 'journey')(start_ts, end_ts)) }}
{%- endmacro %}

{% macro default__millis_between(start_ts, end_ts) -%}
    {{ dbt.datediff(start_ts, end_ts, 'millisecond') }}
{%- endmacro %}

{#- dbt-spark's datediff rounds through seconds; Spark counts epoch milliseconds exactly. -#}
{% macro spark__millis_between(start_ts, end_ts) -%}
    (unix_millis({{ end_ts }}) - unix_millis({{ start_ts }}))
{%- endmacro %}

{# `column` plus `ms` milliseconds. #}
{% macro plus_millis(ms, column) -%}
    {{ return(adapter.dispatch('plus_millis', 'journey')(ms, column)) }}
{%- endmacro %}

{% macro default__plus_millis(ms, column) -%}
    {{ dbt.dateadd('millisecond', ms, column) }}
{%- endmacro %}

{#- dbt-spark's dateadd goes through whole seconds. -#}
{% macro spark__plus_millis(ms, column) -%}
    timestampadd(millisecond, {{ ms }}, {{ column }})
{%- endmacro %}

{# A number of milliseconds as seconds (double). #}
{% macro ms_to_seconds(ms) -%}
    {{ return(adapter.dispatch('ms_to_seconds', 'journey')(ms)) }}
{%- endmacro %}

{% macro default__ms_to_seconds(ms) -%}
    ({{ ms }} / 1000.0)
{%- endmacro %}

{#- On Spark 1000.0 is a decimal, and a bigint over it a decimal too. -#}
{% macro spark__ms_to_seconds(ms) -%}
    ({{ ms }} / cast(1000 as double))
{%- endmacro %}

{#-
  `numerator` / `denominator` as a double, null when the denominator is 0.
  Not `n * 1.0 / d`: that is a double on DuckDB but a numeric on PostgreSQL.
-#}
{% macro ratio(numerator, denominator) -%}
    (cast({{ numerator }} as {{ type_double() }}) / nullif({{ denominator }}, 0))
{%- endmacro %}

{# The session TTL in milliseconds, from the `ttl_hours` var. #}
{% macro ttl_ms() -%}
    {{ (var('ttl_hours') | float * 3600000) | int }}
{%- endmacro %}

{# The recontact window in milliseconds, from the `recontact_window_days` var (docs/contract.md §6.2). #}
{% macro recontact_window_ms() -%}
    {{ (var('recontact_window_days') | float * 86400000) | int }}
{%- endmacro %}

{# The short-abandon bound in milliseconds, from the `short_abandon_s` var (docs/contract.md §6.2.2). #}
{% macro short_abandon_ms() -%}
    {{ (var('short_abandon_s') | float * 1000) | int }}
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

{% macro spark__sorted_set(column, condition) -%}
    array_sort(collect_set({{ column }}) filter (where {{ condition }}))
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

{% macro spark__hour_series(relation, start_hour, end_hour) -%}
    select explode(sequence({{ start_hour }}, {{ end_hour }}, interval 1 hour)) as hour_start
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
    {{ return(adapter.dispatch('in_reporting_timezone', 'journey')(column)) }}
{%- endmacro %}

{% macro default__in_reporting_timezone(column) -%}
    (({{ column }} at time zone 'UTC') at time zone '{{ var("reporting_timezone") }}')
{%- endmacro %}

{% macro spark__in_reporting_timezone(column) -%}
    from_utc_timestamp({{ column }}, '{{ var("reporting_timezone") }}')
{%- endmacro %}

{#- ISO day of the week (1 = Monday … 7 = Sunday) of a timestamp. -#}
{% macro iso_weekday(column) -%}
    {{ return(adapter.dispatch('iso_weekday', 'journey')(column)) }}
{%- endmacro %}

{% macro default__iso_weekday(column) -%}
    extract(isodow from {{ column }})
{%- endmacro %}

{% macro spark__iso_weekday(column) -%}
    extract(dayofweek_iso from {{ column }})
{%- endmacro %}

