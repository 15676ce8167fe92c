{#-
  Every pending_agent visit with the day and team the queue measures count it
  under (docs/contract.md §6.1.7): the UTC day it began, and the team of the
  assignment that ends it, else the session's latest transfer target at or
  before it, else `unassigned`. Read by fct_queue_visits. Both depend only on
  the session's own events, so the model is rebuilt per conversation.
-#}

with events as (
    select * from {{ ref('int_events__sessionized') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

state_visits as (
    select * from {{ ref('int_state_visits__collapsed') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

visits as (
    select * from state_visits
    where state = 'pending_agent'
),

assignments_in_visit as (
    select visits.session_id, visits.visit_index, events.event_seq, events.team
    from visits
    inner join events
        on visits.session_id = events.session_id
        and events.event_type = 'agent.assigned'
        and events.occurred_at >= visits.entered_at
        and (visits.exited_at is null or events.occurred_at <= visits.exited_at)
),

transfers_before_visit as (
    select visits.session_id, visits.visit_index, events.event_seq, events.to_team
    from visits
    inner join events
        on visits.session_id = events.session_id
        and events.event_type = 'conversation.transferred'
        and events.occurred_at <= visits.entered_at
),

ending_assignment as (
    {{ first_by('assignments_in_visit', ['session_id', 'visit_index'], 'event_seq desc', 'team', 'true') }}
),

latest_transfer as (
    {{ first_by('transfers_before_visit', ['session_id', 'visit_index'], 'event_seq desc', 'to_team', 'true') }}
),

final as (
    select
        visits.conversation_id,
        visits.session_id,
        visits.visit_index,
        cast(visits.entered_at as date) as day,
        coalesce(ending_assignment.team, latest_transfer.to_team, {{ unassigned_team() }}) as team,
        visits.entered_at,
        visits.exited_at,
        visits.dwell_s,
        visits.next_state,
        {{ consumed_build_seq(ref('int_sessions__bounded')) }} as upstream_build_seq
    from visits
    left join ending_assignment
        on visits.session_id = ending_assignment.session_id
        and visits.visit_index = ending_assignment.visit_index
    left join latest_transfer
        on visits.session_id = latest_transfer.session_id
        and visits.visit_index = latest_transfer.visit_index
)

{{ bucketed('final') }}
