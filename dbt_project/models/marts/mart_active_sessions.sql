{#- SPEC 4: sessions active at the start of every hour from the first session to the watermark. -#}

with sessions as (
    select * from {{ ref('int_sessions__bounded') }}
),

bounds as (
    select
        {{ dbt.date_trunc('hour', 'min(started_at)') }} as first_hour,
        {{ dbt.date_trunc('hour', 'max(watermark_at)') }} as last_hour
    from sessions
),

hours as (
    {{ hour_series('bounds', 'first_hour', 'last_hour') }}
),

final as (
    select
        hours.hour_start,
        cast(count(sessions.session_id) as {{ dbt.type_bigint() }}) as active_sessions
    from hours
    left join sessions
        on sessions.started_at <= hours.hour_start
        and (sessions.ended_at is null or sessions.ended_at > hours.hour_start)
    group by hours.hour_start
)

select * from final
