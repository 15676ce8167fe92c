{#-
  Handovers (docs/contract.md §6.1.8): transfers between teams, the wait until a human
  speaks after each, and how many sent the work back to a team that had handed it on.
-#}

with transfers as (
    select * from {{ ref('int_transfers__flagged') }}
),

replies as (
    select * from {{ ref('int_human_replies__attributed') }}
),

latencies as (
    select
        transfers.session_id,
        transfers.event_seq,
        transfers.from_team,
        transfers.to_team,
        transfers.is_ping_pong,
        {{ seconds_between('transfers.transferred_at', 'min(replies.replied_at)') }} as latency_s
    from transfers
    left join replies
        on transfers.session_id = replies.session_id
        and replies.replied_at >= transfers.transferred_at
    group by
        transfers.session_id, transfers.event_seq, transfers.from_team, transfers.to_team,
        transfers.is_ping_pong, transfers.transferred_at
),

final as (
    select
        from_team,
        to_team,
        cast(count(*) as {{ dbt.type_bigint() }}) as handovers,
        {{ percentile_cont('latency_s', 0.5) }} as median_handover_latency_s,
        cast(sum(case when is_ping_pong then 1 else 0 end) as {{ dbt.type_bigint() }}) as ping_pongs
    from latencies
    group by from_team, to_team
)

select * from final
