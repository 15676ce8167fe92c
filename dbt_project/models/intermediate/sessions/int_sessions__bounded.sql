{#-
  Start, end and final state of every session. TTL expiry (docs/contract.md §4.5, §4.6): a
  session with no terminal state ends at the activity just before its first
  TTL gap + TTL; with no gap, at its last activity + TTL once that is at or
  before the watermark (`int_events__watermark`). A late event inside
  the window removes the gap, so the expiry disappears on the next build.
  The first terminal state change before any TTL gap ends the session; one
  after it (a repeated close, a desk closing an expired conversation) stays
  attached without moving the end. `end_seq` is the last event that counts
  towards the session's states.

  Incremental: a run rebuilds the conversations the sessionizer rebuilt,
  plus those with an open session, the only ones a moved watermark can end.
-#}

with events as (
    select * from {{ ref('int_events__sessionized') }}
    {% if is_incremental() %}
    where {% call conversations_in('conversation_id') %}
        {{ rebuilt_conversations(ref('int_events__sessionized')) }}
        union
        select conversation_id from {{ this }} where final_state = 'open'
    {% endcall %}
    {% endif %}
),

watermark as (
    select * from {{ ref('int_events__watermark') }}
),

sessions as (
    select
        session_id,
        conversation_id,
        session_ordinal,
        min(event_seq) as first_seq,
        min(occurred_at) as started_at,
        max(case when is_activity then occurred_at end) as last_activity_at
    from events
    group by session_id, conversation_id, session_ordinal
),

first_terminals as (
    {{ first_by('events', 'session_id', 'event_seq', ['event_seq', 'occurred_at', 'to_state'], 'is_terminal_event') }}
),

first_gap as (
    select
        sessions.session_id,
        min(gaps.event_seq) as gap_seq,
        min(gaps.prev_activity_at) as expiring_activity_at
    from sessions
    inner join events as gaps
        on gaps.conversation_id = sessions.conversation_id
        and gaps.event_seq > sessions.first_seq
        and gaps.after_ttl_gap
    group by sessions.session_id
),

terminals as (
    select
        first_terminals.session_id,
        first_terminals.event_seq as terminal_seq,
        first_terminals.occurred_at as terminal_at,
        first_terminals.to_state as terminal_state
    from first_terminals
    left join first_gap on first_terminals.session_id = first_gap.session_id
    where first_gap.gap_seq is null or first_terminals.event_seq < first_gap.gap_seq
),

ttl_expiry as (
    select
        sessions.session_id,
        first_gap.gap_seq,
        case
            when terminals.terminal_at is not null then null
            when first_gap.expiring_activity_at is not null
                then {{ plus_millis(ttl_ms(), 'first_gap.expiring_activity_at') }}
            when {{ plus_millis(ttl_ms(), 'sessions.last_activity_at') }} <= watermark.watermark_at
                then {{ plus_millis(ttl_ms(), 'sessions.last_activity_at') }}
        end as expired_at
    from sessions
    cross join watermark
    left join first_gap on sessions.session_id = first_gap.session_id
    left join terminals on sessions.session_id = terminals.session_id
),

-- docs/contract.md §4.3: an event attached after the session ended moves neither its end
-- nor its last activity, so only the activity up to `end_seq` counts (all of it while open).
bounded_activity as (
    select events.session_id, max(events.occurred_at) as last_activity_at
    from events
    left join terminals on events.session_id = terminals.session_id
    left join ttl_expiry on events.session_id = ttl_expiry.session_id
    where events.is_activity
        and events.event_seq <= coalesce(terminals.terminal_seq, ttl_expiry.gap_seq - 1, events.event_seq)
    group by events.session_id
),

final as (
    select
        sessions.session_id,
        sessions.conversation_id,
        sessions.session_ordinal,
        sessions.first_seq,
        sessions.started_at,
        bounded_activity.last_activity_at,
        coalesce(terminals.terminal_at, ttl_expiry.expired_at) as ended_at,
        case
            when terminals.terminal_state is not null then terminals.terminal_state
            when ttl_expiry.expired_at is not null then 'expired'
            else 'open'
        end as final_state,
        ttl_expiry.expired_at is not null as expired_by_ttl,
        coalesce(terminals.terminal_seq, ttl_expiry.gap_seq - 1) as end_seq,
        {{ consumed_build_seq(ref('int_events__sessionized')) }} as upstream_build_seq,
        {{ next_build_seq() }} as build_seq
    from sessions
    left join terminals on sessions.session_id = terminals.session_id
    left join ttl_expiry on sessions.session_id = ttl_expiry.session_id
    left join bounded_activity on sessions.session_id = bounded_activity.session_id
)

{{ bucketed('final') }}
