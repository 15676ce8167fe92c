{#-
  SPEC 4 agent performance per agent × team × department × query_nature:
  each agent's contributions (a hold, a resolution, a first response, a
  response, handle time) are gathered per session, then summed up.
-#}

with sessions as (
    select * from {{ ref('fct_sessions') }}
),

holds as (
    select * from {{ ref('int_agent_holds__bounded') }}
),

responses as (
    select * from {{ ref('int_agent_responses__paired') }}
),

bounds as (
    select * from {{ ref('int_sessions__bounded') }}
),

-- "Before resolved" in event order (SPEC 3.4: time, then arrival, then id), so
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
    {{ first_by('holds_before_resolution', 'session_id', 'assigned_seq desc', 'agent_id, team', 'true') }}
),

contributions as (
    select session_id, agent_id, team, 1 as handled, 0 as resolved,
        handle_ms, cast(null as double precision) as first_response_s, cast(null as double precision) as response_s
    from holds

    union all

    select session_id, agent_id, team, 0, 1, 0, null, null
    from last_assignment_before_resolution

    union all

    select session_id, first_responder_agent_id, first_responder_team, 0, 0, 0, agent_first_response_s, null
    from sessions
    where first_responder_agent_id is not null

    union all

    select session_id, agent_id, team, 0, 0, 0, null, response_s
    from responses
),

per_session as (
    select
        contributions.agent_id,
        contributions.team,
        sessions.department,
        sessions.query_nature,
        contributions.session_id,
        max(contributions.handled) as handled,
        max(contributions.resolved) as resolved,
        sum(contributions.handle_ms) as handle_ms,
        max(case when contributions.handled = 1 then sessions.csat_score end) as handled_csat
    from contributions
    inner join sessions on contributions.session_id = sessions.session_id
    group by
        contributions.agent_id, contributions.team, sessions.department,
        sessions.query_nature, contributions.session_id
),

session_totals as (
    select
        agent_id,
        team,
        department,
        query_nature,
        cast(sum(handled) as {{ dbt.type_bigint() }}) as sessions_handled,
        cast(sum(resolved) as {{ dbt.type_bigint() }}) as sessions_resolved,
        cast(sum(handle_ms) as double precision) / 1000 as handle_time_s,
        avg(cast(handled_csat as double precision)) as avg_csat
    from per_session
    group by agent_id, team, department, query_nature
),

samples as (
    select
        contributions.agent_id,
        contributions.team,
        sessions.department,
        sessions.query_nature,
        {{ percentile_cont('contributions.first_response_s', 0.5) }} as median_first_response_s,
        {{ percentile_cont('contributions.first_response_s', 0.9) }} as p90_first_response_s,
        {{ percentile_cont('contributions.response_s', 0.5) }} as median_response_s
    from contributions
    inner join sessions on contributions.session_id = sessions.session_id
    group by contributions.agent_id, contributions.team, sessions.department, sessions.query_nature
),

final as (
    select
        session_totals.agent_id,
        session_totals.team,
        session_totals.department,
        session_totals.query_nature,
        session_totals.sessions_handled,
        session_totals.sessions_resolved,
        {{ ratio('session_totals.sessions_resolved', 'session_totals.sessions_handled') }} as resolution_rate,
        samples.median_first_response_s,
        samples.p90_first_response_s,
        samples.median_response_s,
        session_totals.handle_time_s,
        session_totals.avg_csat
    from session_totals
    inner join samples
        on session_totals.agent_id = samples.agent_id
        and session_totals.team = samples.team
        and session_totals.department is not distinct from samples.department
        and session_totals.query_nature is not distinct from samples.query_nature
)

select * from final
