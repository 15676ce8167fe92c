{#-
  Connected components of the identity graph: each identifier's component
  root is the smallest node id reachable from it. The walk only carries a
  root towards larger nodes, which still lets the component's minimum reach
  every member while keeping the recursion far below size² per component.
-#}

with recursive nodes as (
    select distinct node_id, identifier_kind, identifier_value
    from {{ ref('int_identifiers__observed') }}
),

edges as (
    select * from {{ ref('int_identity__edges') }}
),

reach (node_id, root_id) as (
    select node_id, node_id from nodes

    union

    select edges.node_to, reach.root_id
    from reach
    inner join edges on reach.node_id = edges.node_from
    where reach.root_id < edges.node_to
),

roots as (
    select node_id, min(root_id) as component_id
    from reach
    group by node_id
),

final as (
    select
        nodes.node_id,
        nodes.identifier_kind,
        nodes.identifier_value,
        roots.component_id
    from nodes
    inner join roots on nodes.node_id = roots.node_id
)

select * from final
