{#-
  Stage visits (docs/contract.md §3.3, §3.4): the implicit inbound_queue entry, then every
  state change; a change naming the current state starts no new visit. A
  session ended by TTL gets a closing `expired` visit at the expiry time.
-#}

with events as (
    select * from {{ ref('int_events__sessionized') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

sessions as (
    select * from {{ ref('int_sessions__bounded') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

valid_transitions as (
    select * from {{ ref('valid_state_transitions') }}
),

first_events as (
    {{ first_by('events', 'session_id', 'event_seq', 'event_type', 'true') }}
),

points as (
    select
        sessions.session_id,
        sessions.started_at as entered_at,
        0 as point_seq,
        'inbound_queue' as state
    from sessions
    inner join first_events on sessions.session_id = first_events.session_id
    where first_events.event_type <> 'conversation.state_changed'

    union all

    select
        events.session_id,
        events.occurred_at as entered_at,
        events.event_seq as point_seq,
        events.to_state as state
    from events
    inner join sessions on events.session_id = sessions.session_id
    where events.event_type = 'conversation.state_changed'
        -- a close after the session ended (repeated, or after its TTL expiry) starts no visit
        and (sessions.end_seq is null or events.event_seq <= sessions.end_seq)

    union all

    select
        session_id,
        ended_at as entered_at,
        {{ beyond_every_step() }} as point_seq,
        'expired' as state
    from sessions
    where expired_by_ttl
),

with_previous as (
    select
        *,
        lag(state) over (partition by session_id order by entered_at, point_seq) as previous_point_state
    from points
),

visits as (
    select session_id, entered_at, point_seq, state
    from with_previous
    where previous_point_state is null or previous_point_state <> state
),

sequenced as (
    select
        session_id,
        state,
        entered_at,
        cast(row_number() over (partition by session_id order by entered_at, point_seq) as {{ dbt.type_bigint() }}) as visit_index,
        lag(state) over (partition by session_id order by entered_at, point_seq) as previous_state,
        lead(state) over (partition by session_id order by entered_at, point_seq) as next_state,
        lead(entered_at) over (partition by session_id order by entered_at, point_seq) as next_entered_at
    from visits
),

final as (
    select
        sequenced.session_id,
        sessions.conversation_id,
        sequenced.state,
        sequenced.entered_at,
        sequenced.next_entered_at as exited_at,
        {{ seconds_between('sequenced.entered_at', 'sequenced.next_entered_at') }} as dwell_s,
        sequenced.next_state,
        sequenced.visit_index,
        sequenced.previous_state,
        (sequenced.previous_state is null or valid_transitions.to_state is not null) as is_valid_transition,
        {{ consumed_build_seq(ref('int_sessions__bounded')) }} as upstream_build_seq
    from sequenced
    inner join sessions on sequenced.session_id = sessions.session_id
    left join valid_transitions
        on sequenced.previous_state = valid_transitions.from_state
        and sequenced.state = valid_transitions.to_state
)

{{ bucketed('final') }}
