from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_login_failed

        from accounts.guard import failure_record

        user_login_failed.connect(failure_record, dispatch_uid="accounts.guard.failure_record")
