"""The bottom room: helpers every app uses (API errors and inputs, the job runner, throttling, once-per guards, the
read-only admin); it imports no app and no part of the site, which sits on top and wires the apps in."""
