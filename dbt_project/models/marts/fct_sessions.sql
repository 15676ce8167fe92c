{#-
  Incremental: a run replaces the rows of the conversations `int_sessions__recontacted`
  rebuilt (new events, a changed person, sessions the watermark matured;
  dbt_project.yml, macros/incremental.sql).
-#}

with sessions as (
    select * from {{ ref('int_sessions__recontacted') }}
    {{ where_rebuilt(ref('int_sessions__recontacted')) }}
),

final as (
    select
        -- Text cast to the contract's `varchar` (PostgreSQL's expressions give `text`, which
        -- an incremental run's schema check would take for a change), as in fct_state_transitions.
        cast(sessions.session_id as {{ type_text() }}) as session_id,
        cast(sessions.conversation_id as {{ type_text() }}) as conversation_id,
        cast(sessions.unified_user_id as {{ type_text() }}) as unified_user_id,
        cast(sessions.channel as {{ type_text() }}) as channel,
        cast(sessions.department as {{ type_text() }}) as department,
        cast(sessions.query_nature as {{ type_text() }}) as query_nature,
        sessions.started_at,
        sessions.ended_at,
        cast(sessions.final_state as {{ type_text() }}) as final_state,
        sessions.escalated,
        sessions.bot_contained,
        sessions.queue_wait_s,
        sessions.first_queue_wait_s,
        sessions.agent_first_response_s,
        cast(sessions.first_responder_agent_id as {{ type_text() }}) as first_responder_agent_id,
        cast(sessions.first_responder_team as {{ type_text() }}) as first_responder_team,
        sessions.time_to_resolution_s,
        sessions.handovers,
        sessions.webview_opened,
        sessions.funnel_completed,
        sessions.csat_score,
        sessions.session_ordinal,
        sessions.last_activity_at,
        sessions.returned_to_bot,
        sessions.transfer_ping_pongs,
        sessions.recontacted,
        sessions.reopened,
        sessions.first_contact_resolved,
        sessions.durably_contained,
        {{ consumed_build_seq(ref('int_sessions__recontacted')) }} as upstream_build_seq,
        {{ next_build_seq() }} as build_seq
    from sessions
)

select * from final
