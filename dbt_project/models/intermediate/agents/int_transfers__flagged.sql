{#-
  Every conversation.transferred of a session, flagged when it is a ping-pong
  (docs/contract.md §6.2): its to_team is the from_team of an earlier transfer
  of the same session, so the conversation went back to a team that had
  handed it on. Read by the session measures and by the handovers mart.
-#}

with events as (
    select * from {{ ref('int_events__sessionized') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

transfers as (
    select conversation_id, session_id, event_seq, occurred_at as transferred_at, from_team, to_team
    from events
    where event_type = 'conversation.transferred'
),

ping_pongs as (
    select distinct later.session_id, later.event_seq
    from transfers as later
    inner join transfers as earlier
        on later.session_id = earlier.session_id
        and earlier.event_seq < later.event_seq
        and earlier.from_team = later.to_team
),

final as (
    select
        transfers.conversation_id,
        transfers.session_id,
        transfers.event_seq,
        transfers.transferred_at,
        transfers.from_team,
        transfers.to_team,
        ping_pongs.event_seq is not null as is_ping_pong,
        {{ consumed_build_seq(ref('int_sessions__bounded')) }} as upstream_build_seq
    from transfers
    left join ping_pongs
        on transfers.session_id = ping_pongs.session_id
        and transfers.event_seq = ping_pongs.event_seq
)

{{ bucketed('final') }}
