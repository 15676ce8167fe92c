{#-
  docs/contract.md §6.1.5: an agent holds a session from its `agent.assigned` until the
  session's next assignment, the next transfer, or the end of the
  `human_active` visit open at (or first opening after) the assignment.
  `handle_ms` is the hold's overlap with ended `human_active` visits.
-#}

with events as (
    select * from {{ ref('int_events__sessionized') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

visits as (
    select * from {{ ref('int_state_visits__collapsed') }}
    {{ where_rebuilt(ref('int_sessions__bounded')) }}
),

assignments as (
    select
        conversation_id,
        session_id,
        event_seq as assigned_seq,
        occurred_at as assigned_at,
        agent_id,
        team,
        lead(occurred_at) over (partition by session_id order by event_seq) as next_assigned_at
    from events
    where event_type = 'agent.assigned'
),

next_transfer as (
    select
        assignments.session_id,
        assignments.assigned_seq,
        min(transfers.occurred_at) as transferred_at
    from assignments
    inner join events as transfers
        on assignments.session_id = transfers.session_id
        and transfers.event_seq > assignments.assigned_seq
        and transfers.event_type = 'conversation.transferred'
    group by assignments.session_id, assignments.assigned_seq
),

human_visits as (
    select * from visits where state = 'human_active'
),

visits_not_over_at_assignment as (
    select assignments.session_id, assignments.assigned_seq, human_visits.entered_at, human_visits.exited_at
    from assignments
    inner join human_visits
        on assignments.session_id = human_visits.session_id
        and (human_visits.exited_at is null or human_visits.exited_at > assignments.assigned_at)
),

holding_visit as (
    {{ first_by('visits_not_over_at_assignment', ['session_id', 'assigned_seq'], 'entered_at', 'exited_at', 'true') }}
),

holds as (
    select
        assignments.conversation_id,
        assignments.session_id,
        assignments.assigned_seq,
        assignments.assigned_at,
        assignments.agent_id,
        assignments.team,
        least(
            assignments.next_assigned_at,
            next_transfer.transferred_at,
            holding_visit.exited_at
        ) as held_until
    from assignments
    left join next_transfer
        on assignments.session_id = next_transfer.session_id
        and assignments.assigned_seq = next_transfer.assigned_seq
    left join holding_visit
        on assignments.session_id = holding_visit.session_id
        and assignments.assigned_seq = holding_visit.assigned_seq
),

handled as (
    select
        holds.session_id,
        holds.assigned_seq,
        sum(
            {{ millis_between(
                'greatest(holds.assigned_at, human_visits.entered_at)',
                'least(coalesce(holds.held_until, human_visits.exited_at), human_visits.exited_at)'
            ) }}
        ) as handle_ms
    from holds
    inner join human_visits
        on holds.session_id = human_visits.session_id
        and human_visits.exited_at is not null
        and human_visits.exited_at > holds.assigned_at
        and (holds.held_until is null or human_visits.entered_at < holds.held_until)
    group by holds.session_id, holds.assigned_seq
),

final as (
    select
        holds.conversation_id,
        holds.session_id,
        holds.assigned_seq,
        holds.assigned_at,
        holds.agent_id,
        holds.team,
        holds.held_until,
        cast(coalesce(handled.handle_ms, 0) as {{ dbt.type_bigint() }}) as handle_ms,
        {{ consumed_build_seq(ref('int_sessions__bounded')) }} as upstream_build_seq
    from holds
    left join handled
        on holds.session_id = handled.session_id
        and holds.assigned_seq = handled.assigned_seq
)

{{ bucketed('final') }}
