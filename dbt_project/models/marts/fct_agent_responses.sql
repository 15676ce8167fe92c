{#-
  docs/contract.md §6.1.6: response-time samples as a fact: one row per customer message
  answered while an agent held the session, credited to the replying agent,
  so reports and BI read reply times from the marts, never from intermediate.

  Incremental like the session-level models it reads: a run replaces the rows of the
  conversations `int_sessions__bounded` rebuilt (dbt_project.yml, macros/incremental.sql).
-#}

with responses as (
    select * from {{ ref('int_agent_responses__paired') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

final as (
    select
        -- Text cast to the contract's `varchar`, as in fct_state_transitions.
        cast(session_id as {{ type_text() }}) as session_id,
        cast(conversation_id as {{ type_text() }}) as conversation_id,
        cast(agent_id as {{ type_text() }}) as agent_id,
        cast(team as {{ type_text() }}) as team,
        received_at,
        replied_at,
        response_s,
        {{ consumed_build_seq(ref('int_sessions__bounded')) }} as upstream_build_seq,
        {{ next_build_seq() }} as build_seq
    from responses
)

select * from final
