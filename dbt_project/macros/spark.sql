{#-
  What only Spark needs (docs/decisions.md "Spark (issue 18)"). The loader
  writes `raw` as Parquet folders with dlt's filesystem destination; every dbt
  run on Spark registers them as external tables first (an on-run-start hook,
  a no-op on the other warehouses, whose `raw` the loader creates itself).
  The columns are declared, not inferred, so a folder without files yet
  reads as an empty table; tests/loader/test_raw_schema.py holds them to what
  the loader writes (ingestion/loader.py EVENTS_SCHEMA and the quarantine rows).
-#}
{% macro register_raw_tables() -%}
    {{ return(adapter.dispatch('register_raw_tables', 'journey')()) }}
{%- endmacro %}

{% macro default__register_raw_tables() -%}
    select 1
{%- endmacro %}

{% macro spark__register_raw_tables() -%}
    {%- set raw = env_var('JOURNEY_SPARK_DIR') ~ '/raw' -%}
    {%- set tables = {
        'events': 'event_id string, type string, occurred_at timestamp, received_at timestamp,
            sent_at timestamp, conversation_id string, channel string, actor string, identity string,
            attributes string, properties string, extras string, spool_segment string, loaded_at timestamp',
        'quarantine': 'quarantine_id string, spool_segment string, spool_line bigint, reason string,
            source string, source_line bigint, raw string, quarantined_at timestamp',
    } -%}
    {%- do run_query('create database if not exists raw') -%}
    {%- for name, columns in tables.items() -%}
        {%- do run_query('create table if not exists raw.' ~ name ~ ' (' ~ columns ~ ') using parquet location '
            ~ "'" ~ raw ~ '/' ~ name ~ "'") -%}
        {%- do run_query('refresh table raw.' ~ name) -%}
    {%- endfor -%}
    select 1
{%- endmacro %}

{#-
  Buckets of conversations: the unit an incremental model on Spark rewrites
  (insert_overwrite of partitions, dbt_project.yml). A run recomputes every
  conversation of each bucket that holds a changed one, so a bucket's rows
  are always complete and come from one run. More buckets rewrite less per
  run but write more, smaller files.
-#}
{% macro conversation_buckets() -%}
    32
{%- endmacro %}

{% macro conversation_bucket(column) -%}
    pmod(hash({{ column }}), {{ conversation_buckets() }})
{%- endmacro %}

{#- The rows of `relation` with, on Spark, the bucket column the table is partitioned by (last). -#}
{% macro bucketed(relation) -%}
    {{ return(adapter.dispatch('bucketed', 'journey')(relation)) }}
{%- endmacro %}

{% macro default__bucketed(relation) -%}
    select * from {{ relation }}
{%- endmacro %}

{% macro spark__bucketed(relation) -%}
    select *, {{ conversation_bucket('conversation_id') }} as conversation_bucket from {{ relation }}
{%- endmacro %}

{#-
  `column in (<the conversations the call block selects>)`; on Spark widened
  to every conversation of their buckets (a call block, so the models write
  the subquery once: `{% call conversations_in('conversation_id') %}...{% endcall %}`).
-#}
{% macro conversations_in(column) -%}
    {{ return(adapter.dispatch('conversations_in', 'journey')(column, caller())) }}
{%- endmacro %}

{% macro default__conversations_in(column, conversations) -%}
    {{ column }} in ({{ conversations }})
{%- endmacro %}

{% macro spark__conversations_in(column, conversations) -%}
    {{ conversation_bucket(column) }} in (
        select {{ conversation_bucket('conversation_id') }} from ({{ conversations }}) as changed
    )
{%- endmacro %}

{#-
  dbt's `cast` on Spark, with the contracts' portable type names
  (`double precision`, `varchar`, `varchar[]`, models/**/*.yml) spelled as
  Spark's. An enforced contract casts nulls to each declared type through
  it, so the same yml holds on every warehouse.
-#}
{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ spark_type(type) }})
{%- endmacro %}

{% macro spark_type(type) -%}
    {%- set name = type | trim | lower -%}
    {%- if name.endswith('[]') -%}
        array<{{ spark_type(name[:-2]) }}>
    {%- else -%}
        {{ {'double precision': 'double', 'varchar': 'string', 'text': 'string'}.get(name, name) }}
    {%- endif -%}
{%- endmacro %}

{#-
  dbt-spark's insert_overwrite, which replaces only the partitions its output
  holds, made to also clear the rebuilt buckets whose output is now empty
  (a late transfer can end the only hold that gave a bucket's messages their
  response samples): `replace_conversations` on DuckDB clears a conversation
  the same way. The buckets come from `meta.rebuilt_from` as in
  `where_rebuilt`, read before the insert moves `upstream_build_seq` on.
  Overrides dbt-spark's macro of the same name (the root project's wins).
-#}
{% macro get_insert_overwrite_sql(source_relation, target_relation, existing_relation) %}
    {%- set rebuilt_from = (config.get('meta') or {}).get('rebuilt_from') -%}
    {%- if rebuilt_from and execute -%}
        {%- set emptied = run_query(
            'select ' ~ conversation_bucket('conversation_id') ~ ' from ('
            ~ rebuilt_conversations(ref(rebuilt_from), target_relation) ~ ') as rebuilt'
            ~ ' except select conversation_bucket from ' ~ source_relation).columns[0].values() -%}
        {%- if emptied | length -%}
            {%- set partitions = [] -%}
            {%- for bucket in emptied | sort -%}
                {%- do partitions.append('partition (conversation_bucket = ' ~ bucket ~ ')') -%}
            {%- endfor -%}
            {%- do run_query('alter table ' ~ target_relation ~ ' drop if exists ' ~ partitions | join(', ')) -%}
        {%- endif -%}
    {%- endif -%}
    {%- set dest_cols_csv = adapter.get_columns_in_relation(target_relation) | map(attribute='quoted') | join(', ') -%}
    insert overwrite table {{ target_relation }}
    {{ partition_cols(label="partition") }}
    select {{ dest_cols_csv }} from {{ source_relation }}
{% endmacro %}
