{#-
  Incremental: a run replaces the rows of the conversations `int_sessions__bounded`
  rebuilt and of those whose person a new identity link changed (`meta.people_from`,
  dbt_project.yml, macros/incremental.sql).
-#}

with visits as (
    select * from {{ ref('int_state_visits__collapsed') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

users as (
    select * from {{ ref('int_users__mapped') }}
    where identifier_kind = 'conversation_id'
),

final as (
    select
        -- Text cast to the contract's `varchar` (PostgreSQL's expressions give `text`, which
        -- an incremental run's schema check would take for a change), as in fct_session_events.
        cast(visits.session_id as {{ type_text() }}) as session_id,
        cast(visits.conversation_id as {{ type_text() }}) as conversation_id,
        cast(users.unified_user_id as {{ type_text() }}) as unified_user_id,
        cast(visits.state as {{ type_text() }}) as state,
        visits.entered_at,
        visits.exited_at,
        visits.dwell_s,
        cast(visits.next_state as {{ type_text() }}) as next_state,
        visits.visit_index,
        cast(visits.previous_state as {{ type_text() }}) as previous_state,
        visits.is_valid_transition,
        {{ consumed_build_seq(ref('int_sessions__bounded')) }} as upstream_build_seq,
        {{ consumed_people_build_seq() }} as people_build_seq,
        {{ next_build_seq() }} as build_seq
    from visits
    left join users on visits.conversation_id = users.identifier_value
)

select * from final
