"""Component ids, one namespace per page, so two pages never collide."""


class Shell:
    URL = "shell-url"
    TENANT = "shell-tenant"
    USER = "shell-user"
    NAV = "shell-nav"


class Overview:
    PERIOD = "overview-period"
    KPIS = "overview-kpis"
    CHART = "overview-downloads-chart"
    MESSAGE = "overview-message"


class ApiKeys:
    NAME = "apikeys-name"
    SCOPES = "apikeys-scopes"
    CREATE = "apikeys-create"
    NEW_KEY = "apikeys-new-key"
    MESSAGE = "apikeys-message"
    TABLE = "apikeys-table"
    REVOKE = "apikeys-revoke"  # pattern-matching: {"type": REVOKE, "index": key id}


class Methodology:
    BODY = "methodology-body"
    URL = "methodology-url"


class Settings:
    WINDOW = "settings-window"
    TIMEZONE = "settings-timezone"
    SAVE = "settings-save"
    MESSAGE = "settings-message"


class Podcasts:
    URL = "podcasts-url"
    FEED = "podcasts-feed"
    IMPORT = "podcasts-import"
    MESSAGE = "podcasts-message"
    TABLE = "podcasts-table"


class Logs:
    UPLOAD = "logs-upload"
    FORMAT = "logs-format"
    HOST = "logs-host"
    IMPORT = "logs-import"
    JOB = "logs-job"
    POLL = "logs-poll"
    PROGRESS = "logs-progress"
    STATUS = "logs-status"
    TABLE = "logs-table"
