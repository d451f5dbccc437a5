-- grain: one row per node of a balance report (report × path), status-balances grouping.
select
    report_id,
    balance_id,
    grouping,
    date_from,
    date_until,
    path,
    parent_path,
    depth,
    split_part(path, '.', 1) as section,
    split_part(path, '.', 2) as movement,
    transaction_type,
    method,
    fee_type,
    count,
    amount,
    currency
from mollie.balance_reports
qualify row_number() over (partition by report_id, path order by _dlt_load_id desc) = 1
