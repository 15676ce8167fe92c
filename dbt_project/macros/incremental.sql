{#-
  Rows of loads an incremental model has not processed yet. Every load stamps
  its rows with one `loaded_at`, so "new" is an anti-join on the loads the
  model already holds, exact whatever order loads commit in (no clock-skew
  window to tune). Late events need no time window either: the models
  recompute whole units (a conversation, an event) for every new row.
-#}
{% macro is_new_load(column='loaded_at') -%}
    {{ column }} not in (select distinct loaded_at from {{ this }})
{%- endmacro %}

{#-
  Session-level models rebuild only the conversations that changed upstream.
  A model that rebuilds conversations stamps their rows with `build_seq`, a
  number above every one it used before; a model downstream keeps the seq it
  consumed as `upstream_build_seq` and takes the conversations stamped after
  the largest one it holds. A run that failed leaves that maximum behind, so
  the next run catches up: exact without trusting a clock between runs. A
  full build starts from the run's start in epoch milliseconds, so even a
  full refresh of only the upstream model is seen downstream as newer.
-#}
{% macro next_build_seq() -%}
    {%- if is_incremental() -%}
        (select coalesce(max(build_seq), 0) + 1 from {{ this }})
    {%- else -%}
        cast({{ (run_started_at.timestamp() * 1000) | int }} as {{ dbt.type_bigint() }})
    {%- endif -%}
{%- endmacro %}

{% macro rebuilt_conversations(upstream, model=this) -%}
    select conversation_id
    from {{ upstream }}
    where build_seq > (select coalesce(max(upstream_build_seq), 0) from {{ model }})
    {%- set people = people_from() %}
    {%- if people is not none %}
    union
    select identifier_value as conversation_id
    from {{ people }}
    where identifier_kind = 'conversation_id'
        and build_seq > (select coalesce(max(people_build_seq), 0) from {{ model }})
    {%- endif -%}
{%- endmacro %}

{#-
  A model that carries each conversation's person (`unified_user_id`) also
  names the user mapping in `meta.people_from`: a new identity link changes
  the person of old conversations without a new event in them, so the model
  rebuilds the conversations whose mapping row was rewritten too, and stores
  the newest mapping build it consumed as `people_build_seq`.
-#}
{% macro people_from() -%}
    {%- set name = (config.get('meta') or {}).get('people_from') -%}
    {{ return(ref(name) if name else none) }}
{%- endmacro %}

{% macro consumed_people_build_seq() -%}
    (select max(build_seq) from {{ people_from() }})
{%- endmacro %}

{#-
  The newest upstream build a run consumed, stored on every row it writes.
  A model that also reads other incremental models rebuilt from the same
  upstream (its incremental parents) consumed no more than the least any of
  them has: after a failed run, a partial one (a Dagster subset, `dbt build
  -s model`) reads a lagging parent's stale rows, and the lower stamp makes
  the next run redo those conversations. A parent without rows counts as
  caught up. The parents are not named by hand: `incremental_parents` reads
  them from the model's own dependencies, so a `ref` added to a model is
  counted the moment it is written.
-#}
{% macro consumed_build_seq(upstream) -%}
    {%- set newest = '(select max(build_seq) from ' ~ upstream ~ ')' -%}
    {%- set parents = incremental_parents(upstream) -%}
    {%- if parents -%}
    least(
        {{ newest }}
        {%- for parent in parents %},
        (select coalesce(max(upstream_build_seq), {{ newest }}) from {{ parent }})
        {%- endfor %}
    )
    {%- else -%}
    {{ newest }}
    {%- endif -%}
{%- endmacro %}

{#-
  The relations this model reads that are incremental and rebuilt from the
  same upstream as the model (their `meta.rebuilt_from` names it), so their
  `upstream_build_seq` counts in the upstream's `build_seq`: read from the
  model's dependencies (`model.depends_on.nodes`) in dbt's graph, sorted by
  name. The upstream itself is not a parent, nor the user mapping a model
  names in `meta.people_from` (its stamps are kept apart, `people_build_seq`);
  a parent rebuilt from another model stops the build (its stamps count
  other builds). Known when dbt
  executes (`execute`), the only time the SQL reaches a database; empty in
  a unit test, whose inputs are fixtures. Also checks that `upstream` is the
  model named by the model's own `meta.rebuilt_from` (dbt_project.yml), the
  one `replace_conversations` deletes by.
-#}
{% macro incremental_parents(upstream) -%}
    {%- set parents = [] -%}
    {%- if execute and model.resource_type == 'model' -%}
        {%- set nodes = graph.get('nodes', {}) -%}
        {%- set meta = config.get('meta') or {} -%}
        {%- set rebuilt_from = meta.get('rebuilt_from') -%}
        {%- if rebuilt_from is none or ref(rebuilt_from) | string != upstream | string -%}
            {{ exceptions.raise_compiler_error(
                this.identifier ~ " stores the build_seq it consumed of " ~ upstream
                ~ ", but its meta.rebuilt_from in dbt_project.yml names " ~ (rebuilt_from or "no model")) }}
        {%- endif -%}
        {%- for unique_id in model.depends_on.nodes | sort -%}
            {%- set node = nodes.get(unique_id) -%}
            {%- set parent_from = (node.config.meta or {}).get('rebuilt_from') if node is not none
                and node.config.materialized == 'incremental' and node.name != rebuilt_from
                and node.name != meta.get('people_from') else none -%}
            {%- if parent_from and parent_from != rebuilt_from -%}
                {{ exceptions.raise_compiler_error(
                    this.identifier ~ " reads " ~ node.name ~ ", rebuilt from " ~ parent_from ~ " (not "
                    ~ rebuilt_from ~ "): their build_seq stamps cannot be compared") }}
            {%- elif parent_from -%}
                {%- do parents.append(ref(node.name)) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(parents) }}
{%- endmacro %}

{#-
  Keeps an incremental run to the conversations `upstream` rebuilt since this
  model's last run (on Spark: to their buckets, macros/spark.sql).
-#}
{% macro where_rebuilt(upstream, column='conversation_id') -%}
    {%- if is_incremental() %}
    where {% call conversations_in(column) %}{{ rebuilt_conversations(upstream) }}{% endcall %}
    {%- endif -%}
{%- endmacro %}

{#-
  Keeps an incremental run to the rows whose `column` is among those the CTE
  `scope` selects (a model's own change set: components, nodes, people); a
  full build keeps every row.
-#}
{% macro where_scoped(column, scope) -%}
    {%- if is_incremental() %}
    where {{ column }} in (select {{ column }} from {{ scope }})
    {%- endif -%}
{%- endmacro %}

{#-
  Incremental strategy for session-level models: delete every row of the
  conversations rebuilt upstream (named by `meta.rebuilt_from`) and of those
  the new rows hold, then insert the new rows. Unlike delete+insert on a key,
  this also clears a conversation whose new output is empty (a late transfer
  can end the hold that gave a message its response sample); the new rows'
  own conversations let a model rebuild more than its upstream did (after a
  changed setting). The subquery sees the table as it was when the model
  ran, so it names the same conversations.
-#}
{% macro get_incremental_replace_conversations_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set upstream = ref(config.get('meta')['rebuilt_from']) -%}
    delete from {{ target }}
    where conversation_id in ({{ rebuilt_conversations(upstream, target) }})
        or conversation_id in (select conversation_id from {{ arg_dict['temp_relation'] }});

    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}

{#-
  Incremental strategy for the people dimension (`dim_users`, one row per
  `unified_user_id`): replace the people the new rows hold, and delete those
  no longer in the user mapping (`meta.people_from`): a merge keeps the
  smaller id and the other disappears without a row of its own to rebuild.
-#}
{% macro get_incremental_replace_people_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }}
    where unified_user_id in (select unified_user_id from {{ arg_dict['temp_relation'] }})
        or unified_user_id not in (
            select unified_user_id from {{ people_from() }} where unified_user_id is not null
        );

    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}

{#-
  A pre-hook on every model (dbt_project.yml): an incremental table built by
  an older version, missing a column this version's yml declares, stops the
  run with the way out, instead of a binder error deep in the model's SQL or
  rows that mix two versions. A full refresh skips it (it rebuilds anyway).
-#}
{% macro assert_built_by_this_version() -%}
    {%- if execute and config.get('materialized') == 'incremental' and not should_full_refresh() -%}
        {%- set existing = load_cached_relation(this) -%}
        {%- if existing is not none -%}
            {%- set present = adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list -%}
            {%- set missing = [] -%}
            {%- for name in model.columns if name | lower not in present -%}
                {%- do missing.append(name) -%}
            {%- endfor -%}
            {%- if missing -%}
                {{ exceptions.raise_compiler_error(
                    this.identifier ~ " was built by an older version of journey analytics and lacks "
                    ~ missing | join(', ') ~ ". Rebuild the incremental models once: `journey run "
                    ~ "--full-refresh` (in the Dagster UI: Launchpad, ops: journey_dbt: config: "
                    ~ "full_refresh: true).") }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
