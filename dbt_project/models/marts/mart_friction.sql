{#-
  Friction (docs/contract.md §6.1.4), per funnel step, counted in distinct linked sessions:
  who reached a step, moved on from it, gave up on it, or asked for a human
  there, and how long the step held them.
-#}

with events as (
    select * from {{ ref('int_events__sessionized') }}
    where funnel is not null
),

views as (
    select session_id, funnel, step_index, step, event_seq, occurred_at
    from events
    where event_type = 'funnel.step_viewed'
),

first_views as (
    select session_id, funnel, step_index, min(event_seq) as first_seq, min(occurred_at) as first_at
    from views
    group by session_id, funnel, step_index
),

progress_points as (
    select session_id, funnel, step_index, event_seq, occurred_at from views
    union all
    select session_id, funnel, {{ beyond_every_step() }} as step_index, event_seq, occurred_at
    from events
    where event_type = 'funnel.completed'
),

moved_on as (
    select
        first_views.session_id,
        first_views.funnel,
        first_views.step_index,
        min(progress_points.occurred_at) as moved_on_at
    from first_views
    inner join progress_points
        on first_views.session_id = progress_points.session_id
        and first_views.funnel = progress_points.funnel
        and progress_points.step_index > first_views.step_index
        and progress_points.event_seq > first_views.first_seq
    group by first_views.session_id, first_views.funnel, first_views.step_index
),

session_funnels as (
    select
        session_id,
        funnel,
        max(case when event_type = 'funnel.step_viewed' then step_index end) as highest_step_index,
        max(case when event_type = 'funnel.completed' then 1 else 0 end) as completed,
        max(case when event_type = 'escalation.requested' then 1 else 0 end) as escalated
    from events
    group by session_id, funnel
),

escalations as (
    select distinct session_id, funnel, step_index
    from events
    where event_type = 'escalation.requested'
),

step_sessions as (
    select
        first_views.funnel,
        first_views.step_index,
        first_views.session_id,
        1 as reached,
        case when moved_on.moved_on_at is not null then 1 else 0 end as advanced,
        case
            when session_funnels.completed = 0
                and session_funnels.escalated = 0
                and session_funnels.highest_step_index = first_views.step_index
                then 1
            else 0
        end as dropped_off,
        0 as escalated,
        {{ seconds_between('first_views.first_at', 'moved_on.moved_on_at') }} as time_on_step_s
    from first_views
    inner join session_funnels
        on first_views.session_id = session_funnels.session_id
        and first_views.funnel = session_funnels.funnel
    left join moved_on
        on first_views.session_id = moved_on.session_id
        and first_views.funnel = moved_on.funnel
        and first_views.step_index = moved_on.step_index

    union all

    select funnel, step_index, session_id, 0, 0, 0, 1, cast(null as {{ type_double() }})
    from escalations
),

step_names as (
    select funnel, step_index, min(step) as step
    from events
    where event_type in ('funnel.step_viewed', 'escalation.requested')
    group by funnel, step_index
),

counted as (
    select
        funnel,
        step_index,
        cast(sum(reached) as {{ dbt.type_bigint() }}) as sessions_reached,
        cast(sum(advanced) as {{ dbt.type_bigint() }}) as sessions_advanced,
        cast(sum(dropped_off) as {{ dbt.type_bigint() }}) as dropoffs,
        cast(sum(escalated) as {{ dbt.type_bigint() }}) as escalations,
        {{ percentile_cont('time_on_step_s', 0.5) }} as median_time_on_step_s
    from step_sessions
    group by funnel, step_index
),

final as (
    select
        counted.funnel,
        counted.step_index,
        step_names.step,
        counted.sessions_reached,
        counted.sessions_advanced,
        counted.dropoffs,
        counted.escalations,
        {{ ratio('counted.dropoffs', 'counted.sessions_reached') }} as dropoff_rate,
        {{ ratio('counted.escalations', 'counted.sessions_reached') }} as escalation_rate,
        counted.median_time_on_step_s
    from counted
    left join step_names
        on counted.funnel = step_names.funnel
        and counted.step_index = step_names.step_index
)

select * from final
