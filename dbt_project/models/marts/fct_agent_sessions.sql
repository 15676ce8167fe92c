{#-
  docs/contract.md §6.1.6: agent work per session: one row per agent × team × session the agent
  took part in (a hold, the resolution, the first human reply, or a reply).
  The one home of the per-session rules; mart_agent_performance only adds up.
-#}

with sessions as (
    select * from {{ ref('fct_sessions') }}
),

holds as (
    select * from {{ ref('int_agent_holds__bounded') }}
),

responses as (
    select * from {{ ref('fct_agent_responses') }}
),

bounds as (
    select * from {{ ref('int_sessions__bounded') }}
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
        per_session.session_id,
        per_session.agent_id,
        per_session.team,
        sessions.department,
        sessions.query_nature,
        sessions.channel,
        sessions.started_at,
        per_session.handled = 1 as handled,
        per_session.resolved = 1 as resolved,
        per_session.first_response_s,
        cast(per_session.handle_ms as {{ type_double() }}) / 1000 as handle_time_s,
        case when per_session.handled = 1 then sessions.csat_score end as csat_score
    from per_session
    inner join sessions on per_session.session_id = sessions.session_id
)

select * from final
