{#-
  docs/contract.md §6.1.7, §6.2.2: one row per pending_agent visit, with the
  day and team the queue measures count it under, the session's dimensions,
  and how the visit ended. The one home of the outcome rule (answered,
  abandoned, a short abandon below `short_abandon_s`, handed back to the bot,
  still waiting); mart_service_level and mart_queue_dynamics only add up, and
  a dashboard can filter the same rows by channel, department or query nature.
-#}

with visits as (
    select * from {{ ref('int_queue_visits__attributed') }}
),

sessions as (
    select * from {{ ref('fct_sessions') }}
),

final as (
    select
        visits.session_id,
        visits.visit_index,
        visits.day,
        visits.team,
        sessions.channel,
        sessions.department,
        sessions.query_nature,
        visits.entered_at,
        visits.exited_at,
        visits.dwell_s,
        visits.next_state,
        case
            when visits.next_state is null then 'waiting'
            when visits.next_state = 'human_active' then 'answered'
            when visits.next_state = 'bot_active' then 'returned_to_bot'
            when visits.next_state in ({{ quoted(terminal_states()) }})
                and visits.dwell_s < {{ var('short_abandon_s') }} then 'short_abandon'
            when visits.next_state in ({{ quoted(terminal_states()) }}) then 'abandoned'
            else 'other'
        end as outcome
    from visits
    left join sessions on visits.session_id = sessions.session_id
)

select * from final
