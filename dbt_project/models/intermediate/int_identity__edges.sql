{#-
  Identifier pairs seen on one event: the edges of the identity graph, each
  once per direction. Incremental: pairs from newly loaded events are added;
  an edge never goes away because raw events are never deleted.
-#}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['node_from', 'node_to'],
    on_schema_change='fail',
) }}

with observed as (
    select * from {{ ref('int_identifiers__observed') }}
    {% if is_incremental() %}
        where loaded_at > {{ incremental_threshold() }}
    {% endif %}
),

pairs as (
    select
        left_side.node_id as node_from,
        right_side.node_id as node_to,
        max(left_side.loaded_at) as loaded_at
    from observed as left_side
    inner join observed as right_side
        on left_side.event_id = right_side.event_id
        and left_side.node_id <> right_side.node_id
    group by left_side.node_id, right_side.node_id
),

final as (
    select * from pairs
)

select * from final
