{#-
  Demand heatmap (docs/contract.md §6.1.9): all 168 weekday × hour cells in the reporting time
  zone (var `reporting_timezone`), zero counts and null medians where
  nothing happened.
-#}

with sessions as (
    select * from {{ ref('fct_sessions') }}
),

events as (
    select * from {{ ref('int_events__sessionized') }}
),

visits as (
    select * from {{ ref('int_state_visits__collapsed') }}
),

cells as (
    select weekdays.iso_weekday, hours.hour
    from (values {% for d in range(1, 8) %}({{ d }}){{ ", " if not loop.last }}{% endfor %}) as weekdays (iso_weekday)
    cross join (values {% for h in range(24) %}({{ h }}){{ ", " if not loop.last }}{% endfor %}) as hours (hour)
),

first_escalations as (
    select session_id, min(entered_at) as escalated_at
    from visits
    where state = 'pending_agent'
    group by session_id
),

moments as (
    select 'sessions_started' as measure, started_at as happened_at, cast(null as {{ type_double() }}) as value
    from sessions

    union all

    select 'escalations', escalated_at, cast(null as {{ type_double() }})
    from first_escalations

    union all

    select 'messages_received', occurred_at, cast(null as {{ type_double() }})
    from events
    where event_type = 'message.received'

    union all

    select 'answered_queue_visits', entered_at, dwell_s
    from visits
    where state = 'pending_agent' and next_state = 'human_active'
),

happenings as (
    select
        measure,
        cast({{ iso_weekday(in_reporting_timezone('happened_at')) }} as integer) as iso_weekday,
        cast(extract(hour from {{ in_reporting_timezone('happened_at') }}) as integer) as hour,
        value
    from moments
),

final as (
    select
        cells.iso_weekday,
        cells.hour,
        cast(sum(case when happenings.measure = 'sessions_started' then 1 else 0 end) as {{ dbt.type_bigint() }}) as sessions_started,
        cast(sum(case when happenings.measure = 'escalations' then 1 else 0 end) as {{ dbt.type_bigint() }}) as escalations,
        cast(sum(case when happenings.measure = 'messages_received' then 1 else 0 end) as {{ dbt.type_bigint() }}) as messages_received,
        {{ percentile_cont("case when happenings.measure = 'answered_queue_visits' then happenings.value end", 0.5) }}
            as median_queue_wait_s
    from cells
    left join happenings
        on cells.iso_weekday = happenings.iso_weekday
        and cells.hour = happenings.hour
    group by cells.iso_weekday, cells.hour
)

select * from final
