{#-
  docs/contract.md §6.1.6: agent work per session: one row per agent × team × session the agent
  took part in (a hold, the resolution, the first human reply, or a reply).
  The one home of the per-session rules; mart_agent_performance only adds up.
  Rebuilt per conversation: every input is, and the session's measures come
  from int_sessions__measured, not from fct_sessions (also rebuilt for a
  changed person or a matured window, which change no agent's work).
-#}

with sessions as (
    select * from {{ ref('int_sessions__measured') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

holds as (
    select * from {{ ref('int_agent_holds__bounded') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

responses as (
    select * from {{ ref('fct_agent_responses') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

bounds as (
    select * from {{ ref('int_sessions__bounded') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

-- "Before resolved" in event order (docs/contract.md §4.1: time, then arrival, then id), so
-- an assignment in the same millisecond as the close but after it gets no credit.
holds_before_resolution as (
    select holds.session_id, holds.assigned_seq, holds.agent_id, holds.team
    from holds
    inner join bounds
        on holds.session_id = bounds.session_id
        and bounds.final_state = 'resolved'
        and holds.assigned_seq < bounds.end_seq
),

last_assignment_before_resolution as (
    {{ first_by('holds_before_resolution', 'session_id', 'assigned_seq desc', ['agent_id', 'team'], 'true') }}
),

contributions as (
    select session_id, agent_id, team, 1 as handled, 0 as resolved,
        handle_ms, cast(null as {{ type_double() }}) as first_response_s
    from holds

    union all

    select session_id, agent_id, team, 0, 1, 0, null
    from last_assignment_before_resolution

    union all

    select session_id, first_responder_agent_id, first_responder_team, 0, 0, 0, agent_first_response_s
    from sessions
    where first_responder_agent_id is not null

    union all

    select session_id, agent_id, team, 0, 0, 0, null
    from responses
),

per_session as (
    select
        session_id,
        agent_id,
        team,
        max(handled) as handled,
        max(resolved) as resolved,
        sum(handle_ms) as handle_ms,
        max(first_response_s) as first_response_s
    from contributions
    group by session_id, agent_id, team
),

final as (
    select
        -- Text cast to the contract's `varchar`, as in fct_sessions.
        cast(per_session.session_id as {{ type_text() }}) as session_id,
        cast(sessions.conversation_id as {{ type_text() }}) as conversation_id,
        cast(per_session.agent_id as {{ type_text() }}) as agent_id,
        cast(per_session.team as {{ type_text() }}) as team,
        cast(sessions.department as {{ type_text() }}) as department,
        cast(sessions.query_nature as {{ type_text() }}) as query_nature,
        cast(sessions.channel as {{ type_text() }}) as channel,
        sessions.started_at,
        per_session.handled = 1 as handled,
        per_session.resolved = 1 as resolved,
        per_session.first_response_s,
        cast(per_session.handle_ms as {{ type_double() }}) / 1000 as handle_time_s,
        case when per_session.handled = 1 then sessions.csat_score end as csat_score,
        {{ consumed_build_seq(ref('int_sessions__bounded')) }} as upstream_build_seq,
        {{ next_build_seq() }} as build_seq
    from per_session
    inner join sessions on per_session.session_id = sessions.session_id
)

select * from final
