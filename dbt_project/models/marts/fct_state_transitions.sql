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
        visits.session_id,
        visits.conversation_id,
        users.unified_user_id,
        visits.state,
        visits.entered_at,
        visits.exited_at,
        visits.dwell_s,
        visits.next_state,
        visits.visit_index,
        visits.previous_state,
        visits.is_valid_transition,
        {{ consumed_build_seq(ref('int_sessions__bounded')) }} as upstream_build_seq,
        {{ consumed_people_build_seq() }} as people_build_seq
    from visits
    left join users on visits.conversation_id = users.identifier_value
)

select * from final
