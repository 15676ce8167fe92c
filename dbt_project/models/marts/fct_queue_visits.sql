{#-
  docs/contract.md §6.1.7, §6.2.2: one row per pending_agent visit, with the
  day and team the queue measures count it under, the session's dimensions,
  and how the visit ended. The one home of the outcome rule (answered,
  abandoned, a short abandon below `short_abandon_s`, handed back to the bot,
  still waiting); mart_service_level and mart_queue_dynamics only add up, and
  a dashboard can filter the same rows by channel, department or query nature.
  Rebuilt per conversation: the conversations rebuilt upstream, and every
  one judged with another `short_abandon_s` (kept per row as
  `short_abandon_ms`), so a changed bound needs no full refresh. The
  session's dimensions come from int_sessions__measured, rebuilt with the
  visits, not from fct_sessions (also rebuilt for a changed person or a
  matured window, which change no visit).
-#}

with visits as (
    select * from {{ ref('int_queue_visits__attributed') }}
    {% if is_incremental() %}
    where {% call conversations_in('conversation_id') %}
        {{ rebuilt_conversations(ref('int_sessions__bounded')) }}
        union
        select conversation_id
        from {{ this }}
        where short_abandon_ms <> {{ short_abandon_ms() }}
    {% endcall %}
    {% endif %}
),

sessions as (
    select * from {{ ref('int_sessions__measured') }}
),

final as (
    select
        -- Text cast to the contract's `varchar`, as in fct_sessions.
        cast(visits.session_id as {{ type_text() }}) as session_id,
        cast(visits.conversation_id as {{ type_text() }}) as conversation_id,
        visits.visit_index,
        visits.day,
        cast(visits.team as {{ type_text() }}) as team,
        cast(sessions.channel as {{ type_text() }}) as channel,
        cast(sessions.department as {{ type_text() }}) as department,
        cast(sessions.query_nature as {{ type_text() }}) as query_nature,
        visits.entered_at,
        visits.exited_at,
        visits.dwell_s,
        cast(visits.next_state as {{ type_text() }}) as next_state,
        cast(
            case
                when visits.next_state is null then 'waiting'
                when visits.next_state = 'human_active' then 'answered'
                when visits.next_state = 'bot_active' then 'returned_to_bot'
                when visits.next_state in ({{ quoted(terminal_states()) }})
                    and visits.dwell_s < {{ var('short_abandon_s') }} then 'short_abandon'
                when visits.next_state in ({{ quoted(terminal_states()) }}) then 'abandoned'
                else 'other'
            end
        as {{ type_text() }}) as outcome,
        cast({{ short_abandon_ms() }} as {{ dbt.type_bigint() }}) as short_abandon_ms,
        {{ consumed_build_seq(ref('int_sessions__bounded')) }} as upstream_build_seq,
        {{ next_build_seq() }} as build_seq
    from visits
    left join sessions on visits.session_id = sessions.session_id
)

select * from final
