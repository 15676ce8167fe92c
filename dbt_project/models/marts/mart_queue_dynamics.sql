{#- Queue dynamics (docs/contract.md §6.1.7): per day and team, the queue visits, their wait until answered and the abandons. -#}

with visits as (
    select * from {{ ref('fct_queue_visits') }}
),

final as (
    select
        day,
        team,
        cast(count(*) as {{ dbt.type_bigint() }}) as queued,
        {{ percentile_cont("case when outcome = 'answered' then dwell_s end", 0.5) }} as median_unassigned_s,
        {{ percentile_cont("case when outcome = 'answered' then dwell_s end", 0.9) }} as p90_unassigned_s,
        cast(sum(case when outcome in ('abandoned', 'short_abandon') then 1 else 0 end) as {{ dbt.type_bigint() }})
            as abandoned_in_queue
    from visits
    group by day, team
)

select * from final
