{#-
  Response time samples (docs/contract.md §6.1.5): each `message.received` while an agent holds
  the session, paired with the next human reply (none: no sample).
-#}

with events as (
    select * from {{ ref('int_events__sessionized') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

holds as (
    select * from {{ ref('int_agent_holds__bounded') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

replies as (
    select * from {{ ref('int_human_replies__attributed') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

held_messages as (
    select distinct
        events.conversation_id,
        events.session_id,
        events.event_seq,
        events.occurred_at as received_at
    from events
    inner join holds
        on events.session_id = holds.session_id
        and events.occurred_at >= holds.assigned_at
        and (holds.held_until is null or events.occurred_at < holds.held_until)
    where events.event_type = 'message.received'
),

later_replies as (
    select
        held_messages.conversation_id,
        held_messages.session_id,
        held_messages.event_seq,
        held_messages.received_at,
        replies.event_seq as reply_seq,
        replies.replied_at,
        replies.agent_id,
        replies.team
    from held_messages
    inner join replies
        on held_messages.session_id = replies.session_id
        and replies.event_seq > held_messages.event_seq
),

paired as (
    {{ first_by(
        'later_replies', ['session_id', 'event_seq'], 'reply_seq',
        ['conversation_id', 'received_at', 'replied_at', 'agent_id', 'team'], 'true'
    ) }}
),

final as (
    select
        conversation_id,
        session_id,
        agent_id,
        team,
        received_at,
        replied_at,
        {{ seconds_between('received_at', 'replied_at') }} as response_s,
        {{ consumed_build_seq(ref('int_sessions__bounded')) }} as upstream_build_seq
    from paired
)

{{ bucketed('final') }}
