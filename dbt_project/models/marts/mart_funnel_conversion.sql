{#-
  Funnel conversion (docs/contract.md §6.2.4) per UTC day, funnel and channel:
  a session starts a funnel with its first step view; it completed the funnel
  if a completion follows that view in the event order, escalated if it asked
  for a human in the funnel (both may hold), and abandoned it otherwise.
-#}

with events as (
    select * from {{ ref('int_events__sessionized') }}
    where funnel is not null
),

sessions as (
    select * from {{ ref('int_sessions__measured') }}
),

starts as (
    select session_id, funnel, min(event_seq) as first_seq, min(occurred_at) as started_at
    from events
    where event_type = 'funnel.step_viewed'
    group by session_id, funnel
),

completions as (
    select starts.session_id, starts.funnel, min(events.occurred_at) as completed_at
    from starts
    inner join events
        on starts.session_id = events.session_id
        and starts.funnel = events.funnel
        and events.event_type = 'funnel.completed'
        and events.event_seq > starts.first_seq
    group by starts.session_id, starts.funnel
),

escalations as (
    select distinct session_id, funnel
    from events
    where event_type = 'escalation.requested'
),

outcomes as (
    select
        cast(starts.started_at as date) as day,
        starts.funnel,
        sessions.channel,
        completions.completed_at is not null as completed,
        escalations.session_id is not null as escalated,
        {{ seconds_between('starts.started_at', 'completions.completed_at') }} as time_to_complete_s
    from starts
    inner join sessions on starts.session_id = sessions.session_id
    left join completions
        on starts.session_id = completions.session_id
        and starts.funnel = completions.funnel
    left join escalations
        on starts.session_id = escalations.session_id
        and starts.funnel = escalations.funnel
),

counted as (
    select
        day,
        funnel,
        channel,
        count(*) as sessions_started,
        sum(case when completed then 1 else 0 end) as sessions_completed,
        sum(case when escalated then 1 else 0 end) as sessions_escalated,
        sum(case when not completed and not escalated then 1 else 0 end) as sessions_abandoned,
        {{ percentile_cont('time_to_complete_s', 0.5) }} as median_time_to_complete_s,
        {{ percentile_cont('time_to_complete_s', 0.9) }} as p90_time_to_complete_s
    from outcomes
    group by day, funnel, channel
),

final as (
    select
        day,
        funnel,
        channel,
        cast(sessions_started as {{ dbt.type_bigint() }}) as sessions_started,
        cast(sessions_completed as {{ dbt.type_bigint() }}) as sessions_completed,
        cast(sessions_escalated as {{ dbt.type_bigint() }}) as sessions_escalated,
        cast(sessions_abandoned as {{ dbt.type_bigint() }}) as sessions_abandoned,
        {{ ratio('sessions_completed', 'sessions_started') }} as conversion_rate,
        median_time_to_complete_s,
        p90_time_to_complete_s
    from counted
)

select * from final
