{#-
  docs/contract.md §6.1.5: agent performance per agent × team × department × query_nature:
  the per-session facts (fct_agent_sessions, fct_agent_responses) added up.
  Medians and p90 are taken over the samples, never over other medians.
-#}

with agent_sessions as (
    select * from {{ ref('fct_agent_sessions') }}
),

responses as (
    select * from {{ ref('fct_agent_responses') }}
),

session_totals as (
    select
        agent_id,
        team,
        department,
        query_nature,
        cast(sum(case when handled then 1 else 0 end) as {{ dbt.type_bigint() }}) as sessions_handled,
        cast(sum(case when resolved then 1 else 0 end) as {{ dbt.type_bigint() }}) as sessions_resolved,
        {{ percentile_cont('first_response_s', 0.5) }} as median_first_response_s,
        {{ percentile_cont('first_response_s', 0.9) }} as p90_first_response_s,
        -- Added up as whole milliseconds: a sum of doubles depends on the order the engine adds
        -- them in, and a rebuild of the same data must give the same value to the last bit.
        cast(sum(cast(round(handle_time_s * 1000) as {{ dbt.type_bigint() }})) as {{ type_double() }}) / 1000
            as handle_time_s,
        avg(cast(csat_score as {{ type_double() }})) as avg_csat
    from agent_sessions
    group by agent_id, team, department, query_nature
),

-- Every response sample has its agent × team × session row, which carries the session's department and nature.
response_totals as (
    select
        agent_sessions.agent_id,
        agent_sessions.team,
        agent_sessions.department,
        agent_sessions.query_nature,
        {{ percentile_cont('responses.response_s', 0.5) }} as median_response_s
    from responses
    inner join agent_sessions
        on responses.session_id = agent_sessions.session_id
        and responses.agent_id = agent_sessions.agent_id
        and responses.team = agent_sessions.team
    group by agent_sessions.agent_id, agent_sessions.team, agent_sessions.department, agent_sessions.query_nature
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
        session_totals.median_first_response_s,
        session_totals.p90_first_response_s,
        response_totals.median_response_s,
        session_totals.handle_time_s,
        session_totals.avg_csat
    from session_totals
    left join response_totals
        on session_totals.agent_id = response_totals.agent_id
        and session_totals.team = response_totals.team
        and session_totals.department is not distinct from response_totals.department
        and session_totals.query_nature is not distinct from response_totals.query_nature
)

select * from final
