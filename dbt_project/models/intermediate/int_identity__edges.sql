{#-
  Edges of the identity graph, each once per direction: every identifier of
  an event to the event's anchor (its smallest identifier).
-#}

with observed as (
    select * from {{ ref('int_identifiers__observed') }}
    where node_id <> event_anchor
),

pairs as (
    select node_id as node_from, event_anchor as node_to from observed
    union
    select event_anchor as node_from, node_id as node_to from observed
),

final as (
    select * from pairs
)

select * from final
