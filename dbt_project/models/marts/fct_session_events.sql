{#-
  docs/contract.md §6.1.11: every event that belongs to a session, in event order, so a
  reader of the serving snapshot can follow a session across chat, webview and agents
  (the dashboard's session timeline, a funnel step's sessions) without the warehouse.

  What it leaves out (docs/contract.md §9.4): message text and message ids, the
  identifiers of the identity block (channel user id, anonymous id, user id) and the
  free-text `reason`; `actor_id` is kept for bots, agents and systems only, since a
  customer's actor id is whatever the producer sent and is not hashed.

  Incremental like the session-level models it sits beside: a run replaces the rows of
  the conversations `int_sessions__bounded` rebuilt (dbt_project.yml, macros/incremental.sql).
  Its own `build_seq` stamps the rows a run wrote, so the quality checks validate only
  those (orchestration/defs/checks/validated.py).
-#}

with events as (
    select * from {{ ref('int_events__sessionized') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

final as (
    -- Text columns cast to the contract's `varchar`: on PostgreSQL `->>` and `||` give
    -- `text` (as does dbt.type_string()), the contract's incremental table has `varchar`,
    -- and an incremental run would stop on the difference (on_schema_change: fail).
    select
        cast(session_id as {{ type_text() }}) as session_id,
        cast(conversation_id as {{ type_text() }}) as conversation_id,
        event_seq,
        occurred_at,
        cast(event_type as {{ type_text() }}) as event_type,
        cast(actor_kind as {{ type_text() }}) as actor_kind,
        cast(case when actor_kind in ('bot', 'human', 'system') then actor_id end as {{ type_text() }})
            as actor_id,
        cast(channel as {{ type_text() }}) as channel,
        cast(to_state as {{ type_text() }}) as to_state,
        cast(agent_id as {{ type_text() }}) as agent_id,
        cast(team as {{ type_text() }}) as team,
        cast(from_team as {{ type_text() }}) as from_team,
        cast(to_team as {{ type_text() }}) as to_team,
        csat_score,
        cast(funnel as {{ type_text() }}) as funnel,
        cast(step as {{ type_text() }}) as step,
        step_index,
        is_webview,
        {{ consumed_build_seq(ref('int_sessions__bounded')) }} as upstream_build_seq,
        {{ next_build_seq() }} as build_seq
    from events
)

select * from final
