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
