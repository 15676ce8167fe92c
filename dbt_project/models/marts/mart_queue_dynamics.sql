{#-
  Queue dynamics (docs/contract.md §6.1.7): every pending_agent visit on the UTC day it began,
  credited to the team of the assignment that ends it, else the session's
  latest transfer target at or before it, else `unassigned`.
-#}

with events as (
    select * from {{ ref('int_events__sessionized') }}
),

visits as (
    select * from {{ ref('int_state_visits__collapsed') }}
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

attributed as (
    select
        cast(visits.entered_at as date) as day,
        coalesce(ending_assignment.team, latest_transfer.to_team, {{ unassigned_team() }}) as team,
        visits.dwell_s,
        visits.next_state
    from visits
    left join ending_assignment
        on visits.session_id = ending_assignment.session_id
        and visits.visit_index = ending_assignment.visit_index
    left join latest_transfer
        on visits.session_id = latest_transfer.session_id
        and visits.visit_index = latest_transfer.visit_index
),

final as (
    select
        day,
        team,
        cast(count(*) as {{ dbt.type_bigint() }}) as queued,
        {{ percentile_cont("case when next_state = 'human_active' then dwell_s end", 0.5) }} as median_unassigned_s,
        {{ percentile_cont("case when next_state = 'human_active' then dwell_s end", 0.9) }} as p90_unassigned_s,
        cast(sum(case when next_state in ({{ quoted(terminal_states()) }}) then 1 else 0 end) as {{ dbt.type_bigint() }})
            as abandoned_in_queue
    from attributed
    group by day, team
)

select * from final
