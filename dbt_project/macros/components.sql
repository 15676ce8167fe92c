{#-
  Connected components by iterative label propagation, the same on every
  warehouse (docs/decisions.md "Spark (issue 18)"). `edges` is a query of
  (node_from, node_to) pairs holding both directions of every edge and a
  self-pair for every node. Each node starts with its own id as its label;
  a round gives every node the smallest label among its neighbours and
  itself, then jumps to the label its label's node holds (pointer jumping,
  which shortens a long chain by half per round instead of one node).

  It terminates on any graph: labels only decrease and are node ids, so a
  round either lowers one or changes nothing, and the loop stops at the
  first round that changes nothing. A label is always a node of the same
  component, so at that fixpoint every component carries one label, its
  smallest node. `max_rounds` only bounds a run that something else broke:
  reaching it stops the build instead of writing wrong components.

  The rounds run here, one statement each, while dbt renders the model
  (`execute`); the model then reads the labels table this returns. Unlike a
  recursive CTE it never enumerates paths, so cycles cost nothing extra.
-#}
{% macro connected_components(edges, max_rounds=200) -%}
    {%- set labels = this.incorporate(path={'identifier': this.identifier ~ '__labels'}, type='table') -%}
    {%- if not execute -%}
        {{ return(labels) }}
    {%- endif -%}
    {%- set edges_table = this.incorporate(path={'identifier': this.identifier ~ '__edges'}, type='table') -%}
    {%- set next = this.incorporate(path={'identifier': this.identifier ~ '__labels_next'}, type='table') -%}
    {%- do replace_table(edges_table, edges) -%}
    {%- do replace_table(labels, 'select node_from as node_id, min(node_to) as label from ' ~ edges_table ~ ' group by node_from') -%}
    {%- for round in range(max_rounds) -%}
        {%- do replace_table(next, label_round(edges_table, labels)) -%}
        {%- set changed = run_query('select count(*) from ' ~ next ~ ' as next_labels inner join ' ~ labels
            ~ ' as labels on next_labels.node_id = labels.node_id where next_labels.label <> labels.label').columns[0].values()[0] -%}
        {%- do adapter.drop_relation(labels) -%}
        {%- do adapter.rename_relation(next, labels) -%}
        {%- if changed == 0 -%}
            {%- do adapter.drop_relation(edges_table) -%}
            {{ return(labels) }}
        {%- endif -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error(this.identifier ~ ": labels still changing after " ~ max_rounds ~ " rounds") }}
{%- endmacro %}

{#- One round: the smallest label around each node, then the label of that label's node. -#}
{% macro label_round(edges, labels) -%}
    with propagated as (
        select edges.node_from as node_id, min(labels.label) as label
        from {{ edges }} as edges
        inner join {{ labels }} as labels on edges.node_to = labels.node_id
        group by edges.node_from
    )

    select propagated.node_id, coalesce(jumped.label, propagated.label) as label
    from propagated
    left join propagated as jumped on propagated.label = jumped.node_id
{%- endmacro %}

{#- `relation` rebuilt from `sql` (dropped first: Spark has no create or replace for Parquet tables). -#}
{% macro replace_table(relation, sql) -%}
    {%- do adapter.drop_relation(relation) -%}
    {%- do run_query(get_create_table_as_sql(False, relation, sql)) -%}
{%- endmacro %}
