{#-
  Service level (docs/contract.md §6.2.2): per day, team and threshold, how
  many queue visits were answered within the threshold out of those offered
  (answered, or abandoned after at least `short_abandon_s`), and how many were
  abandoned, handed back to the bot or are still waiting. Each visit's
  outcome is fct_queue_visits'; this model only counts.
-#}

with visits as (
    select * from {{ ref('fct_queue_visits') }}
),

thresholds as (
    {% for threshold_s in var('service_level_thresholds_s') -%}
    select cast({{ threshold_s | int }} as integer) as threshold_s
    {%- if not loop.last %}
    union all
    {% endif -%}
    {%- endfor %}
),

counted as (
    select
        visits.day,
        visits.team,
        thresholds.threshold_s,
        count(*) as queued,
        sum(case when outcome = 'answered' then 1 else 0 end) as answered,
        sum(case when outcome = 'answered' and dwell_s <= thresholds.threshold_s then 1 else 0 end) as answered_within,
        sum(case when outcome in ('abandoned', 'short_abandon') then 1 else 0 end) as abandoned,
        sum(case when outcome = 'short_abandon' then 1 else 0 end) as short_abandoned,
        sum(case when outcome = 'returned_to_bot' then 1 else 0 end) as returned_to_bot,
        sum(case when outcome = 'waiting' then 1 else 0 end) as waiting
    from visits
    cross join thresholds
    group by visits.day, visits.team, thresholds.threshold_s
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
