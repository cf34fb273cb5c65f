from openwfm.cli import main

main()
