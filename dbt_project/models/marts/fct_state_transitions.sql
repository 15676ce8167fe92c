with visits as (
    select * from {{ ref('int_state_visits__collapsed') }}
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
        visits.is_valid_transition
    from visits
    left join users on visits.conversation_id = users.identifier_value
)

select * from final
