{#-
  docs/contract.md §6.1.6: response-time samples as a fact: one row per customer message
  answered while an agent held the session, credited to the replying agent,
  so reports and BI read reply times from the marts, never from intermediate.
-#}

with responses as (
    select * from {{ ref('int_agent_responses__paired') }}
),

final as (
    select
        session_id,
        conversation_id,
        agent_id,
        team,
        received_at,
        replied_at,
        response_s
    from responses
)

select * from final
