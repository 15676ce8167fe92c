"""`journey dashboard`: the app on uvicorn, after the bind check of dashboard/security.py."""

from __future__ import annotations

from dashboard.app import Config, create_app
from dashboard.security import PASSWORD_VARIABLE, check_bind
from ingestion.settings import Settings


def config_from_env(settings: Settings) -> Config:
    thresholds = settings.service_level_thresholds_s
    return Config(serving_db=settings.serving_db, timezone=settings.reporting_timezone,
                  threshold_s=thresholds[0] if thresholds else None,
                  password=settings.dashboard_password)


def serve(host: str, port: int, settings: Settings) -> None:
    """Raises PasswordRequired (before listening) for a non-loopback host without a password."""
    import uvicorn

    config = config_from_env(settings)
    check_bind(host, config.password)
    shown = f"[{host}]" if ":" in host else host
    print(f"journey dashboard: http://{shown}:{port}/ reading the serving snapshot {config.serving_db}", flush=True)
    if config.password:
        print(f"  password-protected (HTTP Basic, any user name, the password of {PASSWORD_VARIABLE})", flush=True)
    else:
        print("  loopback only, no password (to listen beyond it, set JOURNEY_DASHBOARD_PASSWORD and --host)",
              flush=True)
    if not settings.serving_db.exists():
        print("  no snapshot there yet: pages say so until `journey run` publishes one", flush=True)
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", access_log=False)
