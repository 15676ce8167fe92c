{#-
  Connected components of the identity graph. Its edges join every
  identifier of an event to the event's anchor (its smallest identifier); a
  node's component root is the smallest node id connected to it, found by
  iterative label propagation (macros/components.sql), which terminates on
  any graph, cycles and long chains included, on every warehouse.

  Incremental: new identifiers can only join components they touch, so a run
  relabels the components of the nodes in observations it has not consumed
  (plus those new nodes) and replaces their rows. Each node also keeps when
  it was first and last seen, so `dim_users` never rescans the observations.
-#}

{%- set scope -%}
with observed as (
    select * from {{ ref('int_identifiers__observed') }}
),

{% if is_incremental() %}
{#- From the table, not `observed`: DuckDB materializes a CTE read twice, and
    `observed` is every observation of the warehouse. -#}
touched as (
    select node_id from {{ ref('int_identifiers__observed') }}
    where build_seq > (select coalesce(max(upstream_build_seq), 0) from {{ this }})
),

scope as (
    select node_id from touched
    union
    select node_id from {{ this }}
    where component_id in (
        select component_id from {{ this }}
        where node_id in (select node_id from touched)
    )
),
{% endif %}

scoped as (
    select * from observed
    {{ where_scoped('node_id', 'scope') }}
)
{%- endset -%}

{#- Both directions of every edge, and every node with itself. -#}
{%- set edges -%}
{{ scope }}
select node_id as node_from, event_anchor as node_to from scoped
union
select event_anchor as node_from, node_id as node_to from scoped
union
select node_id as node_from, node_id as node_to from scoped
{%- endset -%}
{%- set roots = connected_components(edges) %}

{{ scope }},

nodes as (
    select
        node_id,
        identifier_kind,
        identifier_value,
        min(case when event_type <> 'conversation.expired' then occurred_at end) as first_seen_at,
        max(case when event_type <> 'conversation.expired' then occurred_at end) as last_seen_at
    from scoped
    group by node_id, identifier_kind, identifier_value
),

final as (
    select
        nodes.node_id,
        nodes.identifier_kind,
        nodes.identifier_value,
        roots.label as component_id,
        nodes.first_seen_at,
        nodes.last_seen_at,
        {{ consumed_build_seq(ref('int_identifiers__observed')) }} as upstream_build_seq,
        {{ next_build_seq() }} as build_seq
    from nodes
    inner join {{ roots }} as roots on nodes.node_id = roots.node_id
)

select * from final
