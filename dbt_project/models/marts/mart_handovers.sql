{#- Handovers (docs/contract.md §6.1.8): transfers between teams and the wait until a human speaks after each. -#}

with events as (
    select * from {{ ref('int_events__sessionized') }}
),

replies as (
    select * from {{ ref('int_human_replies__attributed') }}
),

transfers as (
    select session_id, event_seq, occurred_at as transferred_at, from_team, to_team
    from events
    where event_type = 'conversation.transferred'
),

latencies as (
    select
        transfers.session_id,
        transfers.event_seq,
        transfers.from_team,
        transfers.to_team,
        {{ seconds_between('transfers.transferred_at', 'min(replies.replied_at)') }} as latency_s
    from transfers
    left join replies
        on transfers.session_id = replies.session_id
        and replies.replied_at >= transfers.transferred_at
    group by transfers.session_id, transfers.event_seq, transfers.from_team, transfers.to_team, transfers.transferred_at
),

final as (
    select
        from_team,
        to_team,
        cast(count(*) as {{ dbt.type_bigint() }}) as handovers,
        {{ percentile_cont('latency_s', 0.5) }} as median_handover_latency_s
    from latencies
    group by from_team, to_team
)

select * from final
