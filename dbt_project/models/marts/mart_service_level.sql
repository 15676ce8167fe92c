{#-
  Service level (docs/contract.md §6.2.2): per day, team and threshold, how
  many queue visits were answered within the threshold out of those offered
  (answered, or abandoned after at least `short_abandon_s`), and how many were
  abandoned, handed back to the bot or are still waiting.
-#}

with visits as (
    select * from {{ ref('int_queue_visits__attributed') }}
),

thresholds as (
    {% for threshold_s in var('service_level_thresholds_s') -%}
    select cast({{ threshold_s | int }} as integer) as threshold_s
    {%- if not loop.last %}
    union all
    {% endif -%}
    {%- endfor %}
),

classified as (
    select
        day,
        team,
        dwell_s,
        next_state = 'human_active' as is_answered,
        next_state in ({{ quoted(terminal_states()) }}) as is_abandoned,
        next_state in ({{ quoted(terminal_states()) }}) and dwell_s < {{ var('short_abandon_s') }} as is_short_abandon,
        next_state = 'bot_active' as is_returned_to_bot,
        exited_at is null as is_waiting
    from visits
),

counted as (
    select
        classified.day,
        classified.team,
        thresholds.threshold_s,
        count(*) as queued,
        sum(case when is_answered then 1 else 0 end) as answered,
        sum(case when is_answered and dwell_s <= thresholds.threshold_s then 1 else 0 end) as answered_within,
        sum(case when is_abandoned then 1 else 0 end) as abandoned,
        sum(case when is_short_abandon then 1 else 0 end) as short_abandoned,
        sum(case when is_returned_to_bot then 1 else 0 end) as returned_to_bot,
        sum(case when is_waiting then 1 else 0 end) as waiting
    from classified
    cross join thresholds
    group by classified.day, classified.team, thresholds.threshold_s
),

final as (
    select
        day,
        team,
        threshold_s,
        cast(queued as {{ dbt.type_bigint() }}) as queued,
        cast(answered as {{ dbt.type_bigint() }}) as answered,
        cast(answered_within as {{ dbt.type_bigint() }}) as answered_within,
        cast(abandoned as {{ dbt.type_bigint() }}) as abandoned,
        cast(short_abandoned as {{ dbt.type_bigint() }}) as short_abandoned,
        cast(returned_to_bot as {{ dbt.type_bigint() }}) as returned_to_bot,
        cast(waiting as {{ dbt.type_bigint() }}) as waiting,
        cast(answered + abandoned - short_abandoned as {{ dbt.type_bigint() }}) as offered,
        {{ ratio('answered_within', 'answered + abandoned - short_abandoned') }} as service_level,
        {{ ratio('abandoned - short_abandoned', 'answered + abandoned - short_abandoned') }} as abandon_rate
    from counted
)

select * from final
