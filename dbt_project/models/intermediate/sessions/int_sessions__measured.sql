{#-
  Every session measure of docs/contract.md §6.1.1 except the person: `fct_sessions` adds the
  unified user, which a new identity link elsewhere can change, so the
  per-session work stays incremental and the mart is a thin join.
-#}

with events as (
    select * from {{ ref('int_events__sessionized') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

sessions as (
    select * from {{ ref('int_sessions__bounded') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

visits as (
    select * from {{ ref('int_state_visits__collapsed') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

replies as (
    select * from {{ ref('int_human_replies__attributed') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

transfers as (
    select * from {{ ref('int_transfers__flagged') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

first_channel as (
    {{ first_by('events', 'session_id', 'event_seq', 'channel', 'true') }}
),

last_department as (
    {{ first_by('events', 'session_id', 'event_seq desc', 'department') }}
),

last_query_nature as (
    {{ first_by('events', 'session_id', 'event_seq desc', 'query_nature') }}
),

last_csat as (
    {{ first_by('events', 'session_id', 'event_seq desc', 'csat_score', "event_type = 'csat.submitted'") }}
),

visit_summary as (
    select
        session_id,
        max(case when state = 'pending_agent' then 1 else 0 end) as entered_pending,
        max(case when state = 'human_active' then 1 else 0 end) as entered_human,
        min(case when state = 'pending_agent' then entered_at end) as first_pending_at,
        min(case when state = 'pending_agent' then visit_index end) as first_pending_visit,
        {{ ms_to_seconds("sum(case when state = 'pending_agent' and exited_at is not null
            then " ~ millis_between('entered_at', 'exited_at') ~ " end)") }} as ended_queue_wait_s,
        sum(case when state = 'bot_active' and previous_state = 'pending_agent' then 1 else 0 end)
            as returned_to_bot
    from visits
    group by session_id
),

ping_pongs as (
    select session_id, count(*) as transfer_ping_pongs
    from transfers
    where is_ping_pong
    group by session_id
),

first_queue_visit as (
    select visits.session_id, visits.dwell_s
    from visits
    inner join visit_summary
        on visits.session_id = visit_summary.session_id
        and visits.visit_index = visit_summary.first_pending_visit
),

replies_since_escalation as (
    select replies.*
    from replies
    inner join visit_summary
        on replies.session_id = visit_summary.session_id
        and replies.replied_at >= visit_summary.first_pending_at
),

first_human_reply as (
    {{ first_by('replies_since_escalation', 'session_id', 'event_seq', ['replied_at', 'agent_id', 'team'], 'true') }}
),

event_summary as (
    select
        session_id,
        sum(case when event_type = 'conversation.transferred' then 1 else 0 end) as handovers,
        max(case when event_type = 'webview.opened' then 1 else 0 end) as webview_opened,
        max(case when event_type = 'funnel.completed' then 1 else 0 end) as funnel_completed
    from events
    group by session_id
),

final as (
    select
        sessions.session_id,
        sessions.conversation_id,
        first_channel.channel,
        last_department.department,
        last_query_nature.query_nature,
        sessions.started_at,
        sessions.ended_at,
        sessions.final_state,
        visit_summary.entered_pending = 1 as escalated,
        (
            sessions.final_state = 'resolved'
            and visit_summary.entered_pending = 0
            and visit_summary.entered_human = 0
        ) as bot_contained,
        case
            when visit_summary.entered_pending = 1 then coalesce(visit_summary.ended_queue_wait_s, 0)
        end as queue_wait_s,
        first_queue_visit.dwell_s as first_queue_wait_s,
        {{ seconds_between('visit_summary.first_pending_at', 'first_human_reply.replied_at') }}
            as agent_first_response_s,
        first_human_reply.agent_id as first_responder_agent_id,
        first_human_reply.team as first_responder_team,
        case
            when sessions.final_state = 'resolved'
                then {{ seconds_between('sessions.started_at', 'sessions.ended_at') }}
        end as time_to_resolution_s,
        cast(event_summary.handovers as {{ dbt.type_bigint() }}) as handovers,
        cast(visit_summary.returned_to_bot as {{ dbt.type_bigint() }}) as returned_to_bot,
        cast(coalesce(ping_pongs.transfer_ping_pongs, 0) as {{ dbt.type_bigint() }}) as transfer_ping_pongs,
        event_summary.webview_opened = 1 as webview_opened,
        event_summary.funnel_completed = 1 as funnel_completed,
        last_csat.csat_score,
        sessions.session_ordinal,
        sessions.last_activity_at,
        {{ consumed_build_seq(ref('int_sessions__bounded')) }} as upstream_build_seq
    from sessions
    inner join visit_summary on sessions.session_id = visit_summary.session_id
    inner join event_summary on sessions.session_id = event_summary.session_id
    left join first_channel on sessions.session_id = first_channel.session_id
    left join last_department on sessions.session_id = last_department.session_id
    left join last_query_nature on sessions.session_id = last_query_nature.session_id
    left join last_csat on sessions.session_id = last_csat.session_id
    left join first_queue_visit on sessions.session_id = first_queue_visit.session_id
    left join first_human_reply on sessions.session_id = first_human_reply.session_id
    left join ping_pongs on sessions.session_id = ping_pongs.session_id
)

{{ bucketed('final') }}
