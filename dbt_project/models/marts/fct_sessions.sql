with sessions as (
    select * from {{ ref('int_sessions__measured') }}
),

users as (
    select * from {{ ref('int_users__mapped') }}
    where identifier_kind = 'conversation_id'
),

quality as (
    select * from {{ ref('int_sessions__recontacted') }}
),

final as (
    select
        sessions.session_id,
        sessions.conversation_id,
        users.unified_user_id,
        sessions.channel,
        sessions.department,
        sessions.query_nature,
        sessions.started_at,
        sessions.ended_at,
        sessions.final_state,
        sessions.escalated,
        sessions.bot_contained,
        sessions.queue_wait_s,
        sessions.first_queue_wait_s,
        sessions.agent_first_response_s,
        sessions.first_responder_agent_id,
        sessions.first_responder_team,
        sessions.time_to_resolution_s,
        sessions.handovers,
        sessions.webview_opened,
        sessions.funnel_completed,
        sessions.csat_score,
        sessions.session_ordinal,
        sessions.last_activity_at,
        sessions.returned_to_bot,
        sessions.transfer_ping_pongs,
        quality.recontacted,
        quality.reopened,
        quality.first_contact_resolved,
        quality.durably_contained
    from sessions
    left join users on sessions.conversation_id = users.identifier_value
    left join quality on sessions.session_id = quality.session_id
)

select * from final
