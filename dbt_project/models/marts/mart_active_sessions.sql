{#-
  docs/contract.md §6.1.10: sessions active at the start of every hour from the first session
  to the watermark. A session is active at hour h when it started at or
  before h and had not ended by h, so it adds one from the first hour
  boundary at or after its start and takes it back from the first one at or
  after its end: a running sum over hours, linear in sessions + hours
  (the direct range join grows with their product).
-#}

with sessions as (
    select * from {{ ref('int_sessions__bounded') }}
),

watermark as (
    select * from {{ ref('int_events__watermark') }}
),

bounds as (
    select
        {{ dbt.date_trunc('hour', '(select min(started_at) from sessions)') }} as first_hour,
        {{ dbt.date_trunc('hour', 'watermark_at') }} as last_hour
    from watermark
),

hours as (
    {{ hour_series('bounds', 'first_hour', 'last_hour') }}
),

changes as (
    select {{ hour_at_or_after('started_at') }} as hour_start, 1 as delta
    from sessions

    union all

    select {{ hour_at_or_after('ended_at') }} as hour_start, -1 as delta
    from sessions
    where ended_at is not null
),

per_hour as (
    select hour_start, sum(delta) as delta
    from changes
    group by hour_start
),

final as (
    select
        hours.hour_start,
        cast(sum(coalesce(per_hour.delta, 0)) over (
            order by hours.hour_start
            rows between unbounded preceding and current row
        ) as {{ dbt.type_bigint() }}) as active_sessions
    from hours
    left join per_hour on hours.hour_start = per_hour.hour_start
)

select * from final
