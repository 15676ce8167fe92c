{#- Queue dynamics (docs/contract.md §6.1.7): per day and team, the queue visits, their wait until answered and the abandons. -#}

with attributed as (
    select * from {{ ref('int_queue_visits__attributed') }}
),

final as (
    select
        day,
        team,
        cast(count(*) as {{ dbt.type_bigint() }}) as queued,
        {{ percentile_cont("case when next_state = 'human_active' then dwell_s end", 0.5) }} as median_unassigned_s,
        {{ percentile_cont("case when next_state = 'human_active' then dwell_s end", 0.9) }} as p90_unassigned_s,
        cast(sum(case when next_state in ({{ quoted(terminal_states()) }}) then 1 else 0 end) as {{ dbt.type_bigint() }})
            as abandoned_in_queue
    from attributed
    group by day, team
)

select * from final
