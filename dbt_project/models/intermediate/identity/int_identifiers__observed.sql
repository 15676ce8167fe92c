{#-
  Every identifier each event carries, one row per (event, identifier): the
  conversation itself is an identifier too, so the events of one thread tie
  their identifiers together (a token-stamped webview event links the
  browser's anonymous id to the chat user).
-#}

with events as (
    select * from {{ ref('stg_raw__events') }}
    {% if is_incremental() %}
        where {{ is_new_load() }}
    {% endif %}
),

{% set kinds = ['conversation_id', 'channel_user_id', 'user_id', 'anonymous_id'] %}
observed as (
    {% for kind in kinds %}
    select
        event_id,
        event_type,
        occurred_at,
        loaded_at,
        '{{ kind }}' as identifier_kind,
        {{ kind }} as identifier_value,
        {{ dbt.concat(["'" ~ kind ~ ":'", kind]) }} as node_id
    from events
    where {{ kind }} is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select
        *,
        -- The event's smallest identifier: linking every identifier of an
        -- event to it (a star) connects the same people as every pair would.
        min(node_id) over (partition by event_id) as event_anchor,
        {{ next_build_seq() }} as build_seq
    from observed
)

select * from final
