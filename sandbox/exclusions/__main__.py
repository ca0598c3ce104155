from sandbox.exclusions import main

main()
